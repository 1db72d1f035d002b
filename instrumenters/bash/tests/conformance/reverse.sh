#!/bin/bash
reverse() {
  local s=$1 out="" i
  for ((i = 0; i < ${#s}; i++)); do
    out="${s:i:1}$out"
  done
  echo "$out"
}
echo "$(reverse "hello")"
