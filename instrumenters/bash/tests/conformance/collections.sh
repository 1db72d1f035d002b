#!/bin/bash
count_words() {
  local -A seen=()
  local w
  for w in $1; do
    seen[$w]=1
  done
  echo "${#seen[@]}"
}
echo "$(count_words "the cat and the hat")"
