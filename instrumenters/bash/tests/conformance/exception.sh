#!/bin/bash
# Bash has no exceptions: divide exits its command-substitution subshell with status 1
# (the frame unwinds with no value); `if !` is the catch
divide() {
  local a=$1 b=$2
  if (( b == 0 )); then
    exit 1
  fi
  echo $((a / b))
}
echo "$(divide 10 2)"
if ! q=$(divide 1 0); then
  echo "error"
fi
