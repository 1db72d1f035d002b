package main

import "fmt"

func divide(a, b int) int {
	if b == 0 {
		panic("division by zero")
	}
	return a / b
}

func try(a, b int) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Println("error")
		}
	}()
	fmt.Println(divide(a, b))
}

func main() {
	try(10, 2)
	try(1, 0)
}
