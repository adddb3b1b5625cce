//go:build linux || darwin

package rootfs

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"syscall"

	"golang.org/x/sys/unix"
)

// WriteChanges writes the changeset from lower to upper as a layer tar with
// .wh. whiteouts, entries sorted, hard links within the changeset kept.
func WriteChanges(w io.Writer, lower, upper string, o ChangeOptions) error {
	cw := &changeWriter{tw: tar.NewWriter(w), upper: upper, links: HardLinks{}, rootOwned: o.RootOwned, trees: o.Trees}
	var err error
	if o.Overlay {
		err = cw.overlay()
	} else {
		err = cw.compare(lower)
	}
	if err != nil {
		return err
	}
	return cw.tw.Close()
}

type changeWriter struct {
	tw        *tar.Writer
	upper     string
	links     HardLinks
	rootOwned bool
	trees     bool // ChangeOptions.Trees
}

func (c *changeWriter) overlay() error {
	return walkSorted(c.upper, func(rel string, fi fs.FileInfo) error {
		if isOverlayWhiteout(fi) {
			return c.whiteout(path.Join(path.Dir(rel), whiteoutPrefix+path.Base(rel)))
		}
		if err := c.add(rel, fi); err != nil {
			return err
		}
		if fi.IsDir() && isOpaque(filepath.Join(c.upper, rel)) {
			return c.whiteout(path.Join(rel, opaqueWhiteout))
		}
		return nil
	})
}

func isOverlayWhiteout(fi fs.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && fi.Mode()&fs.ModeCharDevice != 0 && st.Rdev == 0
}

func isOpaque(p string) bool {
	for _, attr := range []string{"trusted.overlay.opaque", "user.overlay.opaque"} {
		buf := make([]byte, 2)
		if n, err := unix.Lgetxattr(p, attr, buf); err == nil && string(buf[:n]) == "y" {
			return true
		}
	}
	return false
}

// compare writes what is new or different in upper and whiteouts for what
// upper lost. Like docker's own change detection, a file is changed when its
// type, mode, owner, size, mtime, link target or xattrs differ.
func (c *changeWriter) compare(lower string) error {
	type item struct {
		rel string
		fi  fs.FileInfo
	}
	var deleted []string
	// Deletions: whatever lower has and upper does not, the top-most only.
	err := walkSorted(lower, func(rel string, fi fs.FileInfo) error {
		if _, err := os.Lstat(filepath.Join(c.upper, rel)); errors.Is(err, os.ErrNotExist) {
			deleted = append(deleted, rel)
			if fi.IsDir() {
				return filepath.SkipDir
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	var changed []item
	err = walkSorted(c.upper, func(rel string, fi fs.FileInfo) error {
		pa, pb := filepath.Join(lower, rel), filepath.Join(c.upper, rel)
		old, err := os.Lstat(pa)
		if err != nil || differs(old, fi, pa, pb) || c.trees && treesDiffer(old, fi, pa, pb) {
			changed = append(changed, item{rel, fi})
		}
		return nil
	})
	if err != nil {
		return err
	}
	// One sorted stream of additions and whiteouts.
	type out struct {
		name string
		fi   fs.FileInfo // nil: whiteout
	}
	var all []out
	for _, d := range deleted {
		all = append(all, out{name: path.Join(path.Dir(d), whiteoutPrefix+path.Base(d))})
	}
	for _, ch := range changed {
		all = append(all, out{name: ch.rel, fi: ch.fi})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].name < all[j].name })
	for _, e := range all {
		if e.fi == nil {
			err = c.whiteout(e.name)
		} else {
			err = c.add(e.name, e.fi)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func differs(a, b fs.FileInfo, pa, pb string) bool {
	sa, oka := a.Sys().(*syscall.Stat_t)
	sb, okb := b.Sys().(*syscall.Stat_t)
	if !oka || !okb {
		return true
	}
	if a.Mode() != b.Mode() || sa.Uid != sb.Uid || sa.Gid != sb.Gid || sa.Rdev != sb.Rdev {
		return true
	}
	if !b.IsDir() && (a.Size() != b.Size() || !a.ModTime().Equal(b.ModTime())) {
		return true
	}
	if b.IsDir() && !a.ModTime().Equal(b.ModTime()) {
		return true
	}
	if a.Mode()&fs.ModeSymlink != 0 {
		la, _ := os.Readlink(pa)
		lb, _ := os.Readlink(pb)
		return la != lb
	}
	return !sameXattrs(pa, pb)
}

// treesDiffer tells what differs misses between two trees of the rootfs
// cache: an owner kept in OwnerXattr, and the content of a regular file
// that is not the same inode.
func treesDiffer(a, b fs.FileInfo, pa, pb string) bool {
	if string(ownerXattr(pa)) != string(ownerXattr(pb)) {
		return true
	}
	sa, _ := a.Sys().(*syscall.Stat_t)
	sb, _ := b.Sys().(*syscall.Stat_t)
	if !b.Mode().IsRegular() || sa.Ino == sb.Ino && sa.Dev == sb.Dev {
		return false
	}
	same, err := sameContent(pa, pb)
	return err != nil || !same
}

func ownerXattr(p string) []byte {
	buf := make([]byte, 64)
	n, err := unix.Lgetxattr(p, OwnerXattr, buf)
	if err != nil {
		return nil
	}
	return buf[:n]
}

// xattrOwner is the owner Apply recorded in OwnerXattr, if it did.
func xattrOwner(p string) (uid, gid int, ok bool) {
	v := ownerXattr(p)
	if v == nil {
		return 0, 0, false
	}
	_, err := fmt.Sscanf(string(v), "%d:%d", &uid, &gid)
	return uid, gid, err == nil
}

func sameContent(a, b string) (bool, error) {
	fa, err := os.Open(a)
	if err != nil {
		return false, err
	}
	defer fa.Close()
	fb, err := os.Open(b)
	if err != nil {
		return false, err
	}
	defer fb.Close()
	ba, bb := make([]byte, 64<<10), make([]byte, 64<<10)
	for {
		na, ea := io.ReadFull(fa, ba)
		nb, eb := io.ReadFull(fb, bb)
		if na != nb || !bytes.Equal(ba[:na], bb[:nb]) {
			return false, nil
		}
		if ea == io.EOF || ea == io.ErrUnexpectedEOF {
			return eb == ea, nil
		}
		if ea != nil {
			return false, ea
		}
		if eb != nil {
			return false, eb
		}
	}
}

func sameXattrs(a, b string) bool {
	xa, xb := ReadXattrs(a), ReadXattrs(b)
	if len(xa) != len(xb) {
		return false
	}
	for k, v := range xa {
		if w, ok := xb[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// whiteout writes the marker that deletes (.wh.NAME) or hides below
// (.wh..wh..opq) what lower layers have: an empty file, 0600, root's,
// without a time.
func (c *changeWriter) whiteout(name string) error {
	return c.tw.WriteHeader(Meta{Name: name, Mode: 0o600}.Header())
}

func (c *changeWriter) add(rel string, fi fs.FileInfo) error {
	full := filepath.Join(c.upper, rel)
	link := ""
	if fi.Mode()&fs.ModeSymlink != 0 {
		var err error
		if link, err = os.Readlink(full); err != nil {
			return err
		}
	}
	m, err := MetaFromInfo(fi, rel, link)
	if err != nil {
		return fmt.Errorf("changes: %w", err)
	}
	if c.rootOwned {
		m.UID, m.GID = 0, 0
	}
	if c.rootOwned || c.trees {
		// Trees unpacked without root keep the image's owner aside
		// (OwnerXattr); a file copied up from one keeps it too.
		if uid, gid, ok := xattrOwner(full); ok {
			m.UID, m.GID = uid, gid
		}
	}
	c.links.Mark(&m, fi)
	m.Xattrs = ReadXattrs(full)
	hdr := m.Header()
	if err := c.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("changes: %s: %w", rel, err)
	}
	if hdr.Typeflag != tar.TypeReg || hdr.Size == 0 {
		return nil
	}
	f, err := os.Open(full)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := io.CopyN(c.tw, f, hdr.Size); err != nil {
		return fmt.Errorf("changes: %s changed while it was being read: %w", rel, err)
	}
	return nil
}

// walkSorted visits every path below root in lexical order, root excluded.
func walkSorted(root string, fn func(rel string, fi fs.FileInfo) error) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		return fn(filepath.ToSlash(rel), fi)
	})
}
