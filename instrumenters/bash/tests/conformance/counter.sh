#!/bin/bash
# Bash has no classes: a Counter is an associative array, increment takes its name;
# the new count is the return status (and so the return value)
declare -A counter=([count]=0)
increment() {
  local -n self=$1
  self[count]=$((self[count] + 1))
  return "${self[count]}"
}
increment counter
increment counter
increment counter
echo "$?"
