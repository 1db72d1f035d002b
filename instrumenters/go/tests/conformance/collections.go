package main

import (
	"fmt"
	"strings"
)

func count_words(text string) int {
	seen := map[string]bool{}
	for _, w := range strings.Fields(text) {
		seen[w] = true
	}
	return len(seen)
}

func main() {
	fmt.Println(count_words("the cat and the hat"))
}
