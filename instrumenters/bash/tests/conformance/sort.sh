#!/bin/bash
# bubble sorts the array named by $1 in place; the swap count is the return status
bubble() {
  local -n xs=$1
  local n=${#xs[@]} swaps=0 i j t
  for ((i = 0; i < n; i++)); do
    for ((j = 0; j < n - 1 - i; j++)); do
      if (( xs[j] > xs[j + 1] )); then
        t=${xs[j]}
        xs[j]=${xs[j + 1]}
        xs[j + 1]=$t
        swaps=$((swaps + 1))
      fi
    done
  done
  return "$swaps"
}
nums=(5 2 9 1 7)
bubble nums
swaps=$?
echo "${nums[*]}"
echo "$swaps"
