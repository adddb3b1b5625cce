//go:build linux || darwin

package rootfs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/gantry-build/gantry/internal/parallel"
	"golang.org/x/sys/unix"
)

// LinkTree makes dst (which must not exist, or be an empty folder) a copy
// of the tree at src whose files are hard links to src's: folders are new
// (same mode, owner, xattrs and times), everything else is linked, symbolic
// links and device nodes included. It is cp -al in Go: gantry's image has
// no cp.
func LinkTree(src, dst string) error { return linkTree(src, dst) }

// CopyTree copies the tree (or the file) at src to dst, which must not
// exist: content, modes, owners, xattrs, times and hard links within the
// tree kept. It is cp -a in Go.
func CopyTree(src, dst string) error {
	fi, err := os.Lstat(src)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		s := &syncer{links: map[uint64]string{}}
		return s.copyOne(src, dst, fi)
	}
	if err := os.Mkdir(dst, 0o700); err != nil {
		return err
	}
	if err := Sync(dst, src, nil); err != nil {
		return err
	}
	// Sync leaves the top folder alone: it is the caller's.
	if err := finishSynced(dst, src, fi); err != nil {
		return err
	}
	return setTimes(dst, fi)
}

// copyOne copies one non-folder entry.
func (s *syncer) copyOne(from, to string, fi fs.FileInfo) error {
	switch {
	case fi.Mode().IsRegular():
		return s.copyFile(from, to, fi)
	case fi.Mode()&fs.ModeSymlink != 0:
		target, err := os.Readlink(from)
		if err != nil {
			return err
		}
		if err := os.Symlink(target, to); err != nil {
			return err
		}
		return finishSynced(to, from, fi)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if err := unix.Mknod(to, uint32(st.Mode), int(st.Rdev)); err != nil {
		return err
	}
	return finishSynced(to, from, fi)
}

// linkTree walks src making its folders in dst, then links every other
// entry on all cores (a link needs no stat: half the system calls of a
// walk that stats), then gives the folders their times: a link into a
// folder moves its mtime.
func linkTree(src, dst string) error {
	var dirs []syncDir
	var leaves [][2]string // from, to
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		if !d.IsDir() {
			leaves = append(leaves, [2]string{p, to})
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if err := os.Mkdir(to, 0o700); err != nil && !(rel == "." && errors.Is(err, os.ErrExist)) {
			return err
		}
		dirs = append(dirs, syncDir{rel, fi})
		return finishSynced(to, p, fi)
	})
	if err == nil {
		err = linkAll(leaves)
	}
	if err != nil {
		return fmt.Errorf("copying %s: %w", src, err)
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := setTimes(filepath.Join(dst, dirs[i].rel), dirs[i].fi); err != nil {
			return err
		}
	}
	return nil
}

// linkAll makes each hard link, on all cores.
func linkAll(leaves [][2]string) error {
	return parallel.Each(len(leaves), func(i int) error { return os.Link(leaves[i][0], leaves[i][1]) })
}
