package main

import "fmt"

func table(n int) int {
	sum := 0
	for i := 1; i <= n; i++ {
		for j := 1; j <= n; j++ {
			sum += i * j
		}
	}
	return sum
}

func main() {
	fmt.Println(table(3))
}
