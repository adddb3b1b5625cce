package main

import (
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// waitEchoOff waits (2 s at most) until the terminal no longer echoes.
func waitEchoOff(term *os.File) {
	for i := 0; i < 200; i++ {
		if tio, err := unix.IoctlGetTermios(int(term.Fd()), unix.TCGETS); err == nil && tio.Lflag&unix.ECHO == 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}
