package main

import "fmt"

type Counter struct {
	count int
}

func (c *Counter) increment() int {
	c.count++
	return c.count
}

func main() {
	c := &Counter{}
	c.increment()
	c.increment()
	fmt.Println(c.increment())
}
