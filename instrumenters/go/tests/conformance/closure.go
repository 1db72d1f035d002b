package main

import "fmt"

func make_counter() func() int {
	count := 0
	return func() int {
		count++
		return count
	}
}

func main() {
	next := make_counter()
	fmt.Println(next())
	fmt.Println(next())
	fmt.Println(next())
}
