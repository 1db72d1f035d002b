#!/bin/bash
find() {
  local target=$1 i=0
  shift
  for x in "$@"; do
    if (( x == target )); then
      echo "$i"
      return
    fi
    i=$((i + 1))
  done
  echo -1
}
xs=(4 8 15 16)
echo "$(find 15 "${xs[@]}")"
echo "$(find 3 "${xs[@]}")"
