//go:build !linux

package ptytest

import (
	"errors"
	"os"
)

// Open opens pseudo-terminals on Linux only (/dev/ptmx with Linux's
// ioctls); elsewhere the tests that need a terminal fail with this error
// instead of not compiling.
func Open(cols, rows int) (term, control *os.File, err error) {
	return nil, nil, errors.New("ptytest: pseudo-terminals for tests are opened on Linux only")
}
