//go:build linux || darwin

package rootfs

import (
	"errors"
	"io/fs"
	"strings"

	"golang.org/x/sys/unix"
)

// ReadXattrs is the xattrs of p (not followed) that belong in a layer:
// overlayfs' own are bookkeeping, OwnerXattr is rootless gantry's, and the
// system's own (macOS) are never an image's. A filesystem without xattrs
// has none.
func ReadXattrs(p string) map[string]string {
	names, err := listXattrs(p)
	if err != nil || len(names) == 0 {
		return nil
	}
	out := map[string]string{}
	for _, name := range strings.Split(strings.TrimRight(string(names), "\x00"), "\x00") {
		if name == "" || strings.HasPrefix(name, "trusted.overlay.") || strings.HasPrefix(name, "user.overlay.") || name == OwnerXattr || systemXattr(name) {
			continue
		}
		if v, err := getXattr(p, name); err == nil {
			out[name] = string(v)
		}
	}
	return out
}

// listXattrs and getXattr ask the size first when a first buffer is too
// small (ERANGE), so no list and no value is cut or dropped.
func listXattrs(p string) ([]byte, error) {
	buf := make([]byte, 1024)
	for {
		n, err := unix.Llistxattr(p, buf)
		if errors.Is(err, unix.ERANGE) {
			if n, err = unix.Llistxattr(p, nil); err != nil {
				return nil, err
			}
			buf = make([]byte, n+1024)
			continue
		}
		if err != nil {
			return nil, err
		}
		return buf[:n], nil
	}
}

func getXattr(p, name string) ([]byte, error) {
	buf := make([]byte, 256)
	for {
		n, err := unix.Lgetxattr(p, name, buf)
		if errors.Is(err, unix.ERANGE) {
			if n, err = unix.Lgetxattr(p, name, nil); err != nil {
				return nil, err
			}
			buf = make([]byte, n+256)
			continue
		}
		if err != nil {
			return nil, err
		}
		return buf[:n], nil
	}
}

// HardLinks finds the hard links among the files one layer holds: a
// regular file with more than one link, met again by its inode, becomes a
// hard link to the name it was first written under, as in Docker's layers.
type HardLinks map[[2]uint64]string

// Mark makes m (fi its Lstat) a hard link when its inode was marked
// before, and remembers it otherwise.
func (l HardLinks) Mark(m *Meta, fi fs.FileInfo) {
	key, nlink, ok := inodeOf(fi)
	if !ok || !fi.Mode().IsRegular() || nlink < 2 {
		return
	}
	if first, ok := l[key]; ok {
		m.HardLink, m.Link, m.Size = true, first, 0
		return
	}
	l[key] = m.Name
}
