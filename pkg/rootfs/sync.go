//go:build linux || darwin

package rootfs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Sync makes the tree at dst the same as the tree at src, leaving out (in
// both) what skip names: what dst has and src has not goes, what differs
// (type, mode, owner, size, mtime, link target) is replaced, the rest is
// left as it is. It is how gantry lays an image over the root filesystem
// of the CI container it runs in.
//
// A folder of dst that holds a kept path (a mounted volume, say) is never
// removed: what else is in it goes, and src's entry of another type at
// its place is not laid (Sync says which in its error, after doing the rest).
func Sync(dst, src string, keep PathSet) error {
	skip := keep.Skip
	// What dst has that src has not, or has as another type, goes first.
	var doomed []string
	err := walkSkipping(dst, skip, func(rel string, fi fs.FileInfo) error {
		sfi, err := os.Lstat(filepath.Join(src, rel))
		if err != nil || sfi.Mode().Type() != fi.Mode().Type() {
			if fi.IsDir() && keep.Below(rel) {
				return nil // go on inside: all but the kept paths goes
			}
			doomed = append(doomed, rel)
			if fi.IsDir() {
				return filepath.SkipDir
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sync %s: %w", dst, err)
	}
	for _, rel := range doomed {
		if err := os.RemoveAll(filepath.Join(dst, rel)); err != nil {
			return fmt.Errorf("sync: %w", err)
		}
	}
	s := &syncer{dst: dst, src: src, links: map[uint64]string{}, keep: keep}
	if err := walkSkipping(src, skip, s.entry); err != nil {
		return fmt.Errorf("sync %s: %w", dst, err)
	}
	// Folder times last: writing into a folder changes its mtime.
	for i := len(s.dirs) - 1; i >= 0; i-- {
		p := filepath.Join(dst, s.dirs[i].rel)
		if cur, err := os.Lstat(p); err == nil && cur.ModTime().Equal(s.dirs[i].fi.ModTime()) {
			continue // setting the same time would still change its ctime
		}
		if err := setTimes(p, s.dirs[i].fi); err != nil {
			return err
		}
	}
	if len(s.blocked) > 0 {
		return fmt.Errorf("sync: %s cannot be laid: the container has a folder there holding %s", strings.Join(s.blocked, ", "), strings.Join(keep, ", "))
	}
	return nil
}

// PathSet is a set of paths (relative, slash-separated) left alone with
// everything below them.
type PathSet []string

// Skip reports whether rel is one of the paths or below one.
func (ps PathSet) Skip(rel string) bool {
	for _, p := range ps {
		if rel == p || strings.HasPrefix(rel, p+"/") {
			return true
		}
	}
	return false
}

// Below reports whether one of the paths is below rel.
func (ps PathSet) Below(rel string) bool {
	for _, p := range ps {
		if strings.HasPrefix(p, rel+"/") {
			return true
		}
	}
	return false
}

type syncer struct {
	dst, src string
	links    map[uint64]string // source inode → first path, for hard links
	dirs     []syncDir
	keep     PathSet
	blocked  []string // src entries not laid: a kept path is below their place
}

type syncDir struct {
	rel string
	fi  fs.FileInfo
}

func (s *syncer) entry(rel string, fi fs.FileInfo) error {
	from, to := filepath.Join(s.src, rel), filepath.Join(s.dst, rel)
	st := fi.Sys().(*syscall.Stat_t)
	if fi.Mode().IsRegular() && st.Nlink > 1 {
		if first, ok := s.links[st.Ino]; ok {
			return s.hardlink(filepath.Join(s.dst, first), to)
		}
		s.links[st.Ino] = rel
	}
	cur, err := os.Lstat(to)
	exists := err == nil
	if exists && cur.IsDir() && !fi.IsDir() && s.keep.Below(rel) {
		s.blocked = append(s.blocked, rel)
		return nil
	}
	if exists && same(cur, fi, to, from) {
		if fi.IsDir() {
			s.dirs = append(s.dirs, syncDir{rel, fi})
		}
		return nil
	}
	switch {
	case fi.IsDir():
		if !exists {
			if err := os.Mkdir(to, 0o700); err != nil {
				return err
			}
		}
		s.dirs = append(s.dirs, syncDir{rel, fi})
		return finishSynced(to, from, fi)
	default:
		// A file is written beside and renamed over (copyOne); a link,
		// device or fifo must not exist yet.
		if !fi.Mode().IsRegular() {
			os.Remove(to)
		}
		if err := s.copyOne(from, to, fi); err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		return nil
	}
}

// same reports whether dst already is what src is.
func same(dst, src fs.FileInfo, pdst, psrc string) bool {
	a, b := dst.Sys().(*syscall.Stat_t), src.Sys().(*syscall.Stat_t)
	if dst.Mode() != src.Mode() || a.Uid != b.Uid || a.Gid != b.Gid || a.Rdev != b.Rdev {
		return false
	}
	switch {
	case src.IsDir():
		return true // its times are set at the end
	case src.Mode()&fs.ModeSymlink != 0:
		la, _ := os.Readlink(pdst)
		lb, _ := os.Readlink(psrc)
		return la == lb
	}
	return dst.Size() == src.Size() && dst.ModTime().Equal(src.ModTime()) && sameXattrs(pdst, psrc)
}

// copyFile writes a new file beside to and renames it over: a program that
// has the old one open or running keeps it.
func (s *syncer) copyFile(from, to string, fi fs.FileInfo) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := filepath.Join(filepath.Dir(to), ".gantry-sync-"+filepath.Base(to))
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		os.Remove(tmp)
		return err
	}
	if err := out.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := finishSynced(tmp, from, fi); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, to); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

func (s *syncer) hardlink(first, to string) error {
	if a, err := os.Lstat(first); err == nil {
		if b, err := os.Lstat(to); err == nil && os.SameFile(a, b) {
			return nil
		}
	}
	if err := os.Remove(to); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return os.Link(first, to)
}

// finishSynced gives to the owner, mode, xattrs and (but for folders)
// times of from.
func finishSynced(to, from string, fi fs.FileInfo) error {
	st := fi.Sys().(*syscall.Stat_t)
	// Without root a file keeps its maker as owner (cp -a does the same);
	// the image's owner is then in the owner xattr.
	if err := os.Lchown(to, int(st.Uid), int(st.Gid)); err != nil && !errors.Is(err, os.ErrPermission) {
		return err
	}
	if fi.Mode()&fs.ModeSymlink == 0 {
		// After chown, which clears setuid bits.
		if err := unix.Chmod(to, uint32(st.Mode)&0o7777); err != nil {
			return err
		}
	}
	for k, v := range ReadXattrs(from) {
		if err := unix.Lsetxattr(to, k, []byte(v), 0); err != nil && !errors.Is(err, unix.ENOTSUP) {
			return fmt.Errorf("%s: xattr %s: %w", to, k, err)
		}
	}
	if fi.IsDir() {
		return nil
	}
	return setTimes(to, fi)
}

func setTimes(p string, fi fs.FileInfo) error {
	st := fi.Sys().(*syscall.Stat_t)
	ts := []unix.Timespec{statAtime(st), statMtime(st)}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
