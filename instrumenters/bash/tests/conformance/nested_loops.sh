#!/bin/bash
table() {
  local n=$1 sum=0 i j
  for ((i = 1; i <= n; i++)); do
    for ((j = 1; j <= n; j++)); do
      sum=$((sum + i * j))
    done
  done
  echo "$sum"
}
echo "$(table 3)"
