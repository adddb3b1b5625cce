package container

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// Supported is nil where working containers work: on Linux, whose RUN
// sandbox runs their commands (container_other.go says why not elsewhere).
func Supported() error { return nil }

// Lock takes the container for one operation (run, cp, commit): a second
// gantry on the same container refuses at once instead of corrupting its
// layer.
func (c *Container) Lock() (func(), error) {
	f, err := os.OpenFile(filepath.Join(c.dir, "lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("container %s is busy: another gantry is running in it or committing it", c.Name)
	}
	return func() { unix.Flock(int(f.Fd()), unix.LOCK_UN); f.Close() }, nil
}

// isWhiteout tells overlayfs' mark of a deleted path in an upper
// directory: a character device 0/0.
func isWhiteout(fi fs.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && fi.Mode()&fs.ModeCharDevice != 0 && st.Rdev == 0
}

// chownLike gives p the owner of fi, as far as gantry may.
func chownLike(p string, fi fs.FileInfo) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		os.Lchown(p, int(st.Uid), int(st.Gid))
	}
}
