//go:build windows

package store

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/windows"
)

const (
	lockShared    = 0
	lockExclusive = windows.LOCKFILE_EXCLUSIVE_LOCK
)

// flock holds a lock on a file in the store, as lock_unix.go does with
// flock(2): LockFileEx waits for it, and Windows drops it when the process
// dies.
func (s *Store) flock(name string, how uint32) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(s.root, name), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: lock %s: %w", name, err)
	}
	h := windows.Handle(f.Fd())
	// One byte at offset 0 stands for the file, which is never written.
	if err := windows.LockFileEx(h, how, 0, 1, 0, new(windows.Overlapped)); err != nil {
		f.Close()
		return nil, fmt.Errorf("store: lock %s: %w", name, err)
	}
	return func() {
		windows.UnlockFileEx(h, 0, 1, 0, new(windows.Overlapped))
		f.Close()
	}, nil
}
