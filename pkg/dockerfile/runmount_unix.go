//go:build unix

package dockerfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"golang.org/x/sys/unix"
)

// cacheMountDir picks the folder of a RUN cache mount and locks it for the
// step, as BuildKit shares it: "shared" (the default) with any other build
// at the same time, "locked" with one at a time (others wait), "private" by
// taking the first instance no other build holds.
func cacheMountDir(base string, sharing instructions.ShareMode) (string, func(), error) {
	if err := os.MkdirAll(filepath.Dir(base), 0o755); err != nil {
		return "", nil, err
	}
	lock := func(dir string, how int) (func(), error) {
		f, err := os.OpenFile(dir+".lock", os.O_CREATE|os.O_RDWR, 0o644)
		if err != nil {
			return nil, err
		}
		if err := unix.Flock(int(f.Fd()), how); err != nil {
			f.Close()
			return nil, err
		}
		return func() { f.Close() }, nil // closing releases the lock
	}
	switch sharing {
	case instructions.MountSharingLocked:
		unlock, err := lock(base, unix.LOCK_EX)
		return base, unlock, err
	case instructions.MountSharingPrivate:
		for i := 0; ; i++ {
			dir := base
			if i > 0 {
				dir = fmt.Sprintf("%s-%d", base, i)
			}
			unlock, err := lock(dir, unix.LOCK_EX|unix.LOCK_NB)
			if err == nil {
				return dir, unlock, nil
			}
			if !errors.Is(err, unix.EWOULDBLOCK) {
				return "", nil, err
			}
		}
	}
	unlock, err := lock(base, unix.LOCK_SH)
	return base, unlock, err
}
