//go:build unix

// Package rawfile reads and writes files with plain system calls. Opening
// an os.File also sets the descriptor up for Go's poller (fcntl, epoll_ctl,
// fstat): for the thousands of small files of a source tree that costs more
// than reading or writing them.
package rawfile

import (
	"errors"
	"io"

	"golang.org/x/sys/unix"
)

// File is an open file descriptor.
type File int

// Open opens path for reading.
func Open(path string) (File, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, &pathError{"open", path, err}
	}
	return File(fd), nil
}

// OpenNoFollow opens path for reading, its last component not followed
// when it is a link (ErrLinkOnPath), without waiting on a FIFO.
func OpenNoFollow(path string) (File, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NONBLOCK|unix.O_NOFOLLOW, 0)
	if err == unix.ELOOP {
		err = ErrLinkOnPath
	}
	if err != nil {
		return -1, &pathError{"open", path, err}
	}
	return File(fd), nil
}

// ErrLinkOnPath is OpenNoLinks's refusal: a link is on the path.
var ErrLinkOnPath = errors.New("a link is on the path")

// CreateNew creates path, which must not exist (unix.EEXIST otherwise),
// for writing.
func CreateNew(path string, perm uint32) (File, error) {
	fd, err := unix.Open(path, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_CLOEXEC, perm)
	if err != nil {
		return -1, &pathError{"create", path, err}
	}
	return File(fd), nil
}

func (f File) Read(p []byte) (int, error) {
	for {
		n, err := unix.Read(int(f), p)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, err
		}
		if n == 0 && len(p) > 0 {
			return 0, io.EOF
		}
		return n, nil
	}
}

func (f File) Write(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m, err := unix.Write(int(f), p[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return n, err
		}
		n += m
	}
	return n, nil
}

// Chmod sets the mode bits, setuid, setgid and sticky included.
func (f File) Chmod(mode uint32) error { return unix.Fchmod(int(f), mode) }

// Stat_t is what Stat tells (rawfile_windows.go has the part Windows has).
type Stat_t = unix.Stat_t

// Stat describes the open file.
func (f File) Stat() (Stat_t, error) {
	var st Stat_t
	err := unix.Fstat(int(f), &st)
	return st, err
}

func (f File) Close() error { return unix.Close(int(f)) }

type pathError struct {
	op, path string
	err      error
}

func (e *pathError) Error() string { return e.op + " " + e.path + ": " + e.err.Error() }
func (e *pathError) Unwrap() error { return e.err }
