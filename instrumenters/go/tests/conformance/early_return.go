package main

import "fmt"

func find(xs []int, target int) int {
	for i, x := range xs {
		if x == target {
			return i
		}
	}
	return -1
}

func main() {
	xs := []int{4, 8, 15, 16}
	fmt.Println(find(xs, 15))
	fmt.Println(find(xs, 3))
}
