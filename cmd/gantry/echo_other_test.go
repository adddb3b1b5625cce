//go:build !linux

package main

import "os"

// waitEchoOff: the tests that type passwords open their terminals on Linux.
func waitEchoOff(*os.File) {}
