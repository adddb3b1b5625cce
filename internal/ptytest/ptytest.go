//go:build linux

// Package ptytest opens pseudo-terminals, for tests of what gantry does
// when a person is at a terminal (prompts, refusals, the live progress
// view).
package ptytest

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Open returns a new pseudo-terminal: the terminal side (what a program
// under test gets as stdin, stdout or stderr) and the controlling side (what
// the test reads the program's output from and types into), sized
// cols×rows.
func Open(cols, rows int) (term, control *os.File, err error) {
	control, err = os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("open a pseudo-terminal: %w", err)
	}
	fd := int(control.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil { // unlockpt
		control.Close()
		return nil, nil, fmt.Errorf("unlock the pseudo-terminal: %w", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN) // ptsname
	if err != nil {
		control.Close()
		return nil, nil, fmt.Errorf("name the pseudo-terminal: %w", err)
	}
	term, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		control.Close()
		return nil, nil, fmt.Errorf("open the pseudo-terminal: %w", err)
	}
	ws := &unix.Winsize{Col: uint16(cols), Row: uint16(rows)}
	if err := unix.IoctlSetWinsize(int(term.Fd()), unix.TIOCSWINSZ, ws); err != nil {
		term.Close()
		control.Close()
		return nil, nil, fmt.Errorf("size the pseudo-terminal: %w", err)
	}
	return term, control, nil
}
