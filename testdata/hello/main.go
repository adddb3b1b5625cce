package main

import (
	"fmt"
	"os"
)

func main() {
	msg := "hello from a gantry test image"
	if len(os.Args) > 1 {
		msg = fmt.Sprint(os.Args[1:])
	}
	fmt.Println(msg)
}
