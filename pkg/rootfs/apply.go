//go:build linux || darwin

package rootfs

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"

	"github.com/gantry-build/gantry/internal/rawfile"
	"github.com/gantry-build/gantry/pkg/userns"
	"golang.org/x/sys/unix"
)

// OwnerXattr records a file's owner in the image on trees unpacked without
// root, where chown is not possible.
const OwnerXattr = "user.gantry.owner"

// Apply unpacks the layer tar r onto dir. Owners are applied when running
// as root, device nodes are created when the kernel lets us, and xattrs
// where the filesystem takes them.
func Apply(dir string, r io.Reader) error {
	a := &applier{dir: dir, root: !userns.Rootless(), created: map[string]bool{}, madeDirs: map[string]string{}}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("layer: %w", err)
		}
		if err := a.entry(hdr, tr); err != nil {
			return err
		}
	}
	return a.finishDirs()
}

type applier struct {
	dir      string
	root     bool
	created  map[string]bool   // paths this layer made: an opaque marker spares them
	madeDirs map[string]string // directories this layer made → where they are
	dirs     []dirTime
	buf      []byte
}

type dirTime struct {
	path  string
	mtime time.Time
}

// resolve returns where rel goes on disk: its parent resolved safely inside
// the root (following links that stay inside), its own name not followed.
//
// Directories this layer created itself are real directories (not links) by
// construction: their resolution is remembered, which spares securejoin's
// walk of every path component for every file of a large layer.
func (a *applier) resolve(rel string) (string, error) {
	dir := path.Dir(rel)
	if p, ok := a.madeDirs[dir]; ok {
		return filepath.Join(p, path.Base(rel)), nil
	}
	parent, err := securejoin.SecureJoin(a.dir, dir)
	if err != nil {
		return "", fmt.Errorf("layer entry %q: %w", rel, err)
	}
	return filepath.Join(parent, path.Base(rel)), nil
}

// forget drops what was remembered of rel and below: it is being replaced,
// possibly by a symlink that must be resolved again.
func (a *applier) forget(rel string) {
	for d := range a.madeDirs {
		if d == rel || strings.HasPrefix(d, rel+"/") {
			delete(a.madeDirs, d)
		}
	}
}

func (a *applier) entry(hdr *tar.Header, r io.Reader) error {
	if isSparse(hdr) {
		// archive/tar hands out a sparse file's holes as zeros: a few
		// hundred bytes of tar would write terabytes. Image tools write no
		// sparse entries.
		return fmt.Errorf("layer entry %q is a sparse file, which image layers never hold", hdr.Name)
	}
	rel, err := clean(hdr.Name)
	if err != nil || rel == "" {
		return err
	}
	base := path.Base(rel)
	if base == opaqueWhiteout {
		return a.opaque(path.Dir(rel))
	}
	if strings.HasPrefix(base, whiteoutPrefix) {
		name := strings.TrimPrefix(base, whiteoutPrefix)
		if name == "" || name == "." || name == ".." {
			// ".wh..." would name the parent: joined below, it removed the
			// folder holding the root filesystem.
			return fmt.Errorf("layer entry %q: a whiteout must name a file", hdr.Name)
		}
		gone := path.Join(path.Dir(rel), name)
		target, err := a.resolve(gone)
		if err != nil {
			return err
		}
		a.forget(gone)
		return removeAll(target)
	}
	target, err := a.resolve(rel)
	if err != nil {
		return err
	}
	if _, fresh := a.madeDirs[path.Dir(rel)]; fresh && hdr.Typeflag == tar.TypeReg {
		// The parent is this layer's own new directory: nothing can be in
		// the way but an earlier entry of the same name, which O_EXCL
		// reports (the general path below then replaces it). A tree of
		// small files spends its time in these few syscalls.
		err := a.regular(hdr, target, r)
		if !errors.Is(err, unix.EEXIST) {
			if err != nil {
				return fmt.Errorf("layer entry %q: %w", rel, err)
			}
			a.created[rel] = true
			return nil
		}
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return fmt.Errorf("layer entry %q: %w", rel, err)
	}
	// A directory over a directory merges; anything else replaces.
	if fi, err := os.Lstat(target); err == nil && !(fi.IsDir() && hdr.Typeflag == tar.TypeDir) {
		if err := removeAll(target); err != nil {
			return err
		}
		a.forget(rel)
	}
	a.created[rel] = true
	if err := a.create(hdr, rel, target, r); err != nil {
		return fmt.Errorf("layer entry %q: %w", rel, err)
	}
	return nil
}

func (a *applier) create(hdr *tar.Header, rel, target string, r io.Reader) error {
	mode := os.FileMode(hdr.Mode & 0o777)
	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := os.Mkdir(target, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return err
		}
		// Lstat, not the error: an existing entry here was already checked
		// to be a directory (anything else was removed above).
		if fi, err := os.Lstat(target); err == nil && fi.IsDir() {
			a.madeDirs[rel] = target
		}
		a.dirs = append(a.dirs, dirTime{target, hdr.ModTime})
	case tar.TypeReg: // the reader reports old-style regular files (TypeRegA) as TypeReg
		return a.regular(hdr, target, r)
	case tar.TypeSymlink:
		// The target is content, not a path to follow now: it is resolved
		// inside the root whenever something is later written through it.
		return a.finish(hdr, target, os.Symlink(hdr.Linkname, target))
	case tar.TypeLink:
		linkRel, err := clean(hdr.Linkname)
		if err != nil {
			return err
		}
		src, err := securejoin.SecureJoin(a.dir, linkRel)
		if err != nil {
			return err
		}
		if fi, err := os.Lstat(src); err != nil || fi.IsDir() {
			return fmt.Errorf("hard link to %q, which is not a file in this root filesystem", hdr.Linkname)
		}
		return os.Link(src, target) // a link shares its target's owner and mode
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		kind := uint32(unix.S_IFIFO)
		if hdr.Typeflag == tar.TypeChar {
			kind = unix.S_IFCHR
		} else if hdr.Typeflag == tar.TypeBlock {
			kind = unix.S_IFBLK
		}
		dev := unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))
		if err := unix.Mknod(target, kind|uint32(mode), int(dev)); err != nil {
			if errors.Is(err, unix.EPERM) && !userns.RealRoot() {
				// Without root, or as root of a user namespace, device
				// nodes cannot be made: skip them as rootless runtimes do
				// (the layer keeps them).
				return nil
			}
			return err
		}
	default:
		return nil // pax globals and the like carry no file
	}
	if err := os.Chmod(target, ModeFromUnix(hdr.Mode)); err != nil {
		return err
	}
	return a.finish(hdr, target, nil)
}

// regular writes a regular file that must not exist yet (EEXIST if it
// does).
func (a *applier) regular(hdr *tar.Header, target string, r io.Reader) error {
	f, err := rawfile.CreateNew(target, 0o600)
	if err != nil {
		return err
	}
	if a.buf == nil {
		a.buf = make([]byte, 256<<10)
	}
	_, err = io.CopyBuffer(f, r, a.buf)
	if err == nil {
		err = f.Chmod(uint32(hdr.Mode & 0o7777))
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return a.finish(hdr, target, nil)
}

// finish sets owner, xattrs and mtime without following a symlink.
func (a *applier) finish(hdr *tar.Header, target string, err error) error {
	if err != nil {
		return err
	}
	if !a.root && (hdr.Uid != 0 || hdr.Gid != 0) && hdr.Typeflag != tar.TypeSymlink {
		// Rootless: the owner cannot be set, so it is remembered for COPY
		// --from to read back (layer.OwnerXattr).
		_ = unix.Lsetxattr(target, OwnerXattr, []byte(fmt.Sprintf("%d:%d", hdr.Uid, hdr.Gid)), 0)
	}
	if a.root && (hdr.Uid != 0 || hdr.Gid != 0) { // root's files are 0:0 already
		if err := os.Lchown(target, hdr.Uid, hdr.Gid); errors.Is(err, unix.EINVAL) && hdr.Typeflag != tar.TypeSymlink {
			// Root of a user namespace whose subordinate range does not
			// reach this id: the file stays root's, the owner is kept
			// aside, as without root.
			_ = unix.Lsetxattr(target, OwnerXattr, []byte(fmt.Sprintf("%d:%d", hdr.Uid, hdr.Gid)), 0)
		} else if err != nil {
			return err
		}
		// chown clears setuid bits: set them again.
		if hdr.Typeflag != tar.TypeSymlink && hdr.Mode&0o6000 != 0 {
			if err := os.Chmod(target, ModeFromUnix(hdr.Mode)); err != nil {
				return err
			}
		}
	}
	for k, v := range hdr.PAXRecords {
		if name, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok {
			if err := unix.Lsetxattr(target, name, []byte(v), 0); err != nil && !errors.Is(err, unix.ENOTSUP) && !errors.Is(err, unix.EPERM) {
				return fmt.Errorf("xattr %s: %w", name, err)
			}
		}
	}
	if hdr.Typeflag == tar.TypeDir {
		return nil // directories get their time at the end, after their contents
	}
	ts := []unix.Timespec{unix.NsecToTimespec(hdr.ModTime.UnixNano()), unix.NsecToTimespec(hdr.ModTime.UnixNano())}
	return unix.UtimesNanoAt(unix.AT_FDCWD, target, ts, unix.AT_SYMLINK_NOFOLLOW)
}

// isSparse tells GNU sparse entries, old ('S') and PAX (GNU.sparse.*).
func isSparse(hdr *tar.Header) bool {
	if hdr.Typeflag == tar.TypeGNUSparse {
		return true
	}
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return true
		}
	}
	return false
}

// opaque empties dir of what lower layers put there, keeping what this layer
// already wrote.
func (a *applier) opaque(dirRel string) error {
	target, err := securejoin.SecureJoin(a.dir, dirRel)
	if err != nil {
		return err
	}
	entries, err := os.ReadDir(target)
	if errors.Is(err, os.ErrNotExist) {
		return os.MkdirAll(target, 0o755)
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if a.created[path.Join(dirRel, e.Name())] {
			continue
		}
		if err := removeAll(filepath.Join(target, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

func (a *applier) finishDirs() error {
	for i := len(a.dirs) - 1; i >= 0; i-- {
		d := a.dirs[i]
		ts := []unix.Timespec{unix.NsecToTimespec(d.mtime.UnixNano()), unix.NsecToTimespec(d.mtime.UnixNano())}
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, d.path, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

func removeAll(p string) error {
	if err := os.RemoveAll(p); err != nil {
		return fmt.Errorf("layer: %w", err)
	}
	return nil
}
