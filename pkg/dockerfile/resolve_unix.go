//go:build unix

package dockerfile

import (
	"os"

	"golang.org/x/sys/unix"
)

// openResolved opens a context path that sources resolved (no link left in
// it) for reading: a link found there now is not followed (ELOOP), and a
// FIFO put there does not make the build wait for a writer.
func openResolved(p string) (*os.File, error) {
	return os.OpenFile(p, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
}
