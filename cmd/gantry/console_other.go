//go:build !unix

package main

import "os"

// notifyResize does nothing: there is no SIGWINCH here (and no gantry run:
// working containers need Linux).
func notifyResize(c chan<- os.Signal) {}
