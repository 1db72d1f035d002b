package main

import (
	"fmt"
	"strings"
)

func bubble(xs []int) int {
	swaps := 0
	for i := 0; i < len(xs); i++ {
		for j := 0; j < len(xs)-1-i; j++ {
			if xs[j] > xs[j+1] {
				xs[j], xs[j+1] = xs[j+1], xs[j]
				swaps++
			}
		}
	}
	return swaps
}

func main() {
	xs := []int{5, 2, 9, 1, 7}
	swaps := bubble(xs)
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprint(x)
	}
	fmt.Println(strings.Join(parts, " "))
	fmt.Println(swaps)
}
