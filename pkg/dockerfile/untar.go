package dockerfile

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/gantry-build/gantry/internal/rawfile"
	"github.com/gantry-build/gantry/pkg/layer"
	"github.com/gantry-build/gantry/pkg/rootfs"
)

// untarView is the tree an ADD archive unpacks into, as BuildKit's
// chrootarchive.Untar sees it: the image's files (lower) with what this
// layer wrote so far on top. Paths resolve as the kernel resolves them in a
// chroot at the destination: symlinks followed, an absolute one and ".."
// from the destination, never above it. Paths are relative to the image's
// root, without a leading slash.
type untarView struct {
	lower string // the image's root filesystem on the host
	dest  string // the destination, resolved in the image ("" for /)
	layer map[string]*tar.Header
	dirs  map[string]bool // folders of lower whose children lower holds
}

func newUntarView(lower, dest string) *untarView {
	return &untarView{lower: lower, dest: dest, layer: map[string]*tar.Header{}, dirs: map[string]bool{"": true}}
}

// maxLinks is how many symlinks one path may go through (Linux's limit).
const maxLinks = 40

// node is what the view has at p: a tar type flag, the link target for a
// symlink; ok false when nothing is there.
func (v *untarView) node(p string) (typ byte, link string, ok bool) {
	if h, ok := v.layer[p]; ok {
		return h.Typeflag, h.Linkname, true
	}
	if !v.lowerDir(path.Dir(p)) {
		return 0, "", false
	}
	fi, err := os.Lstat(filepath.Join(v.lower, filepath.FromSlash(p)))
	if err != nil {
		return 0, "", false
	}
	switch {
	case fi.IsDir():
		return tar.TypeDir, "", true
	case fi.Mode()&fs.ModeSymlink != 0:
		link, err := os.Readlink(filepath.Join(v.lower, filepath.FromSlash(p)))
		return tar.TypeSymlink, link, err == nil
	}
	return tar.TypeReg, "", true
}

// lowerDir is whether lower's children of d are in the view: d is a real
// folder of lower (no link) under folders that are too. Every path looked
// up in lower is checked so, which keeps lookups off the host's links.
func (v *untarView) lowerDir(d string) bool {
	d = strings.TrimPrefix(strings.TrimPrefix(d, "/"), ".") // path.Dir gives "." and "/" for the root
	if ok, seen := v.dirs[d]; seen {
		return ok
	}
	ok := v.lowerDir(path.Dir("/"+d)) && !v.replaced(d)
	if ok {
		fi, err := os.Lstat(filepath.Join(v.lower, filepath.FromSlash(d)))
		ok = err == nil && fi.IsDir()
	}
	v.dirs[d] = ok
	return ok
}

// replaced is whether this layer put something other than a folder at p.
func (v *untarView) replaced(p string) bool {
	h, ok := v.layer[p]
	return ok && h.Typeflag != tar.TypeDir
}

// resolve is name (relative to the destination) with its symlinks
// followed, the last one too when followLast; components that do not exist
// are taken as they are.
func (v *untarView) resolve(name string, followLast bool) (string, error) {
	parts := strings.Split(path.Clean("/"+name), "/")[1:]
	cur, links := v.dest, 0
	for len(parts) > 0 {
		part := parts[0]
		parts = parts[1:]
		switch part {
		case "", ".":
			continue
		case "..":
			if cur != v.dest {
				cur = strings.TrimPrefix(path.Dir("/"+cur), "/")
			}
			continue
		}
		next := strings.TrimPrefix(cur+"/"+part, "/")
		typ, link, ok := v.node(next)
		if ok && typ == tar.TypeSymlink && (len(parts) > 0 || followLast) {
			if links++; links > maxLinks {
				return "", fmt.Errorf("%s: too many levels of symbolic links", name)
			}
			if path.IsAbs(link) {
				cur = v.dest
			}
			parts = append(strings.Split(link, "/"), parts...)
			continue
		}
		if ok && typ != tar.TypeDir && len(parts) > 0 {
			return "", fmt.Errorf("%s: /%s is not a directory", name, next)
		}
		cur = next
	}
	return cur, nil
}

// put records what the layer writes at p.
func (v *untarView) put(p string, h *tar.Header) {
	v.layer[p] = h
	if h.Typeflag != tar.TypeDir {
		v.dirs[p] = false
	}
}

// untar writes archive a into the layer at the view's destination, as
// BuildKit's untar leaves it: each entry where its path leads in the view,
// the parents it lacks made (0755, root, as go-archive makes implied
// folders), a folder over a folder merged, symlinks 0777, a hard link to a
// file of the image copied up beside it (as overlayfs does), owners as
// the archive has them unless chown (--chown, 0:0 included).
func (v *untarView) untar(tw *tar.Writer, a string, chown bool, uid, gid int, created time.Time) error {
	f, err := rawfile.OpenNoFollow(a) // resolved: a link found there now is not followed
	if err != nil {
		return err
	}
	defer f.Close()
	r, err := decompress(f)
	if err != nil {
		return err
	}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(path.Clean("/"+h.Name), "/")
		if name == "" || h.Typeflag == tar.TypeXGlobalHeader {
			// The archive's own root is the destination, which keeps
			// the owner and mode it gets as a parent.
			continue
		}
		parent, err := v.resolve(path.Dir(name), true)
		if err != nil {
			return err
		}
		if err := v.mkdirAll(tw, parent, created); err != nil {
			return err
		}
		h.Name = strings.TrimPrefix(parent+"/"+path.Base(name), "/")
		switch h.Typeflag {
		case tar.TypeSymlink:
			h.Mode = h.Mode&^0o7777 | 0o777
		case tar.TypeLink:
			target, err := v.resolve(h.Linkname, false)
			if err != nil {
				return err
			}
			if err := v.copyUp(tw, target); err != nil {
				return fmt.Errorf("hard link %s to %s: %w", name, h.Linkname, err)
			}
			h.Linkname = target
		}
		if chown {
			h.Uid, h.Gid = uid, gid
		}
		h.Uname, h.Gname = "", ""
		v.put(h.Name, h)
		if h.Typeflag == tar.TypeDir {
			h.Name += "/"
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return err
		}
	}
}

// mkdirAll makes the folders of dir (resolved) the view lacks, below the
// destination.
func (v *untarView) mkdirAll(tw *tar.Writer, dir string, created time.Time) error {
	if dir == v.dest {
		return nil
	}
	rel := strings.TrimPrefix(strings.TrimPrefix(dir, v.dest), "/")
	p := v.dest
	for _, part := range strings.Split(rel, "/") {
		p = strings.TrimPrefix(p+"/"+part, "/")
		if _, _, ok := v.node(p); ok {
			continue
		}
		h := rootfs.Meta{Name: p, Mode: fs.ModeDir | 0o755, ModTime: created}.Header()
		v.put(p, h)
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
	}
	return nil
}

// copyUp makes sure target, a hard link's target, is in the layer: a file
// of the image is written into it first, as overlayfs copies a lower file
// up before linking to it.
func (v *untarView) copyUp(tw *tar.Writer, target string) error {
	if h, ok := v.layer[target]; ok {
		if h.Typeflag == tar.TypeDir {
			return errors.New("the target is a directory")
		}
		return nil
	}
	typ, _, ok := v.node(target)
	if !ok {
		return errors.New("no such file")
	}
	if typ != tar.TypeReg {
		return errors.New("the target is not a regular file of the archive or the image")
	}
	p := filepath.Join(v.lower, filepath.FromSlash(target))
	fi, err := os.Lstat(p)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return errors.New("the target is not a regular file")
	}
	m, err := rootfs.MetaFromInfo(fi, target, "")
	if err != nil {
		return err
	}
	m.UID, m.GID = layer.ImageOwner(fi, p)
	h := m.Header()
	// As this copy has always been written: the format the header needs
	// (ustar for a short name), the mtime in whole seconds.
	h.Format = tar.FormatUnknown
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	v.put(target, h)
	if err := tw.WriteHeader(h); err != nil {
		return err
	}
	_, err = io.CopyN(tw, f, h.Size)
	return err
}

// record puts what the layer's plain entries (sources copied beside the
// archives) make into the view.
func (v *untarView) record(entries []layer.Entry) {
	for _, e := range entries {
		h := rootfs.Meta{Name: e.Name, Mode: e.Mode, Link: e.Link, HardLink: e.HardLink}.Header()
		v.put(strings.Trim(e.Name, "/"), h)
	}
}
