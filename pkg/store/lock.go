package store

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// flock holds an advisory lock on a file in the store; the kernel drops it
// when the process dies, so a killed gantry never leaves the store locked.
func (s *Store) flock(name string, how int) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(s.root, name), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: lock %s: %w", name, err)
	}
	for {
		err = unix.Flock(int(f.Fd()), how)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("store: lock %s: %w", name, err)
	}
	return func() {
		unix.Flock(int(f.Fd()), unix.LOCK_UN)
		f.Close()
	}, nil
}

// Writing marks the start of an operation that adds blobs before naming them
// (a pull, a load, a build). Prune waits until every such operation has called
// the returned function, so it never collects blobs that are about to be named.
func (s *Store) Writing() (done func(), err error) {
	return s.flock("gc.lock", unix.LOCK_SH)
}

func (s *Store) lockIndex() (unlock func(), err error) {
	return s.flock("index.lock", unix.LOCK_EX)
}
