//go:build linux || darwin

package rootfs

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
	m, ok := MetaOf(hdr)
	if !ok {
		return nil // pax globals and the like carry no file
	}
	target, err := a.resolve(rel)
	if err != nil {
		return err
	}
	if _, fresh := a.madeDirs[path.Dir(rel)]; fresh && m.Mode.IsRegular() && !m.HardLink {
		// The parent is this layer's own new directory: nothing can be in
		// the way but an earlier entry of the same name, which O_EXCL
		// reports (the general path below then replaces it). A tree of
		// small files spends its time in these few syscalls.
		err := a.regular(m, target, r)
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
	if fi, err := os.Lstat(target); err == nil && !(fi.IsDir() && m.Mode.IsDir()) {
		if err := removeAll(target); err != nil {
			return err
		}
		a.forget(rel)
	}
	a.created[rel] = true
	if err := a.create(m, rel, target, r); err != nil {
		return fmt.Errorf("layer entry %q: %w", rel, err)
	}
	return nil
}

// create makes the file m describes at target: the file-from-header half
// of the codec (Meta.Header is the other). Content first, then mode
// (setuid, setgid and sticky included), owner, xattrs and mtime; a
// directory's mtime waits until its contents are in (finishDirs).
func (a *applier) create(m Meta, rel, target string, r io.Reader) error {
	switch {
	case m.Mode.IsDir():
		err := os.Mkdir(target, 0o755)
		merged := errors.Is(err, os.ErrExist)
		if err != nil && !merged {
			return err
		}
		// Lstat, not the error: an existing entry here was already checked
		// to be a directory (anything else was removed above).
		if fi, err := os.Lstat(target); err == nil && fi.IsDir() {
			a.madeDirs[rel] = target
		}
		a.dirs = append(a.dirs, dirTime{target, m.ModTime})
		if merged && m.UID == 0 && m.GID == 0 {
			// finish sets owners other than root's, what this makes being
			// root's already; a directory merged over one that exists may
			// be someone else's, and the layer gives it back to root.
			if err := a.backToRoot(target); err != nil {
				return err
			}
		}
	case m.Mode&fs.ModeSymlink != 0:
		// The target is content, not a path to follow now: it is resolved
		// inside the root whenever something is later written through it.
		if m.Link == "" {
			return errors.New("a symlink without a target, which no filesystem holds: the layer is damaged")
		}
		return a.finish(m, target, os.Symlink(m.Link, target))
	case m.HardLink:
		linkRel, err := clean(m.Link)
		if err != nil {
			return err
		}
		src, err := securejoin.SecureJoin(a.dir, linkRel)
		if err != nil {
			return err
		}
		if fi, err := os.Lstat(src); err != nil || fi.IsDir() {
			return fmt.Errorf("hard link to %q, which is not a file in this root filesystem", m.Link)
		}
		return os.Link(src, target) // a link shares its target's owner and mode
	case m.Mode.IsRegular():
		return a.regular(m, target, r)
	case m.Mode&(fs.ModeDevice|fs.ModeNamedPipe) != 0:
		kind := uint32(unix.S_IFIFO)
		if m.Mode&fs.ModeCharDevice != 0 {
			kind = unix.S_IFCHR
		} else if m.Mode&fs.ModeDevice != 0 {
			kind = unix.S_IFBLK
		}
		dev := unix.Mkdev(uint32(m.Devmajor), uint32(m.Devminor))
		if err := unix.Mknod(target, kind|uint32(m.Mode.Perm()), int(dev)); err != nil {
			if errors.Is(err, unix.EPERM) && !userns.RealRoot() {
				// Without root, or as root of a user namespace, device
				// nodes cannot be made: skip them as rootless runtimes do
				// (the layer keeps them).
				return nil
			}
			return err
		}
	}
	if err := os.Chmod(target, m.Mode&permBits); err != nil {
		return err
	}
	return a.finish(m, target, nil)
}

// backToRoot makes the existing directory at target root's, as the layer
// says: the inode's owner with root, the owner kept aside without it.
func (a *applier) backToRoot(target string) error {
	if a.root {
		if err := os.Lchown(target, 0, 0); err != nil {
			return err
		}
	}
	if err := unix.Lremovexattr(target, OwnerXattr); err != nil && !errors.Is(err, unix.ENODATA) && !errors.Is(err, unix.ENOTSUP) && !errors.Is(err, unix.EPERM) {
		return err
	}
	return nil
}

// regular writes a regular file that must not exist yet (EEXIST if it
// does).
func (a *applier) regular(m Meta, target string, r io.Reader) error {
	f, err := rawfile.CreateNew(target, 0o600)
	if err != nil {
		return err
	}
	if a.buf == nil {
		a.buf = make([]byte, 256<<10)
	}
	_, err = io.CopyBuffer(f, r, a.buf)
	if err == nil {
		err = f.Chmod(uint32(UnixMode(m.Mode)))
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return a.finish(m, target, nil)
}

// finish sets owner, xattrs and mtime without following a symlink.
func (a *applier) finish(m Meta, target string, err error) error {
	if err != nil {
		return err
	}
	symlink := m.Mode&fs.ModeSymlink != 0
	if !a.root && (m.UID != 0 || m.GID != 0) && !symlink {
		// Rootless: the owner cannot be set, so it is remembered for COPY
		// --from to read back (layer.OwnerXattr).
		_ = unix.Lsetxattr(target, OwnerXattr, []byte(fmt.Sprintf("%d:%d", m.UID, m.GID)), 0)
	}
	if a.root && (m.UID != 0 || m.GID != 0) { // root's files are 0:0 already
		if err := os.Lchown(target, m.UID, m.GID); errors.Is(err, unix.EINVAL) && !symlink {
			// Root of a user namespace whose subordinate range does not
			// reach this id: the file stays root's, the owner is kept
			// aside, as without root.
			_ = unix.Lsetxattr(target, OwnerXattr, []byte(fmt.Sprintf("%d:%d", m.UID, m.GID)), 0)
		} else if err != nil {
			return err
		}
		// chown clears setuid bits: set them again.
		if !symlink && m.Mode&(fs.ModeSetuid|fs.ModeSetgid) != 0 {
			if err := os.Chmod(target, m.Mode&permBits); err != nil {
				return err
			}
		}
	}
	// Every xattr the layer carries is set where the kernel and the
	// filesystem take it: those they refuse (trusted.* without root,
	// a filesystem without user.*) are left out, as Docker leaves them.
	for name, v := range m.Xattrs {
		if err := unix.Lsetxattr(target, name, []byte(v), 0); err != nil && !errors.Is(err, unix.ENOTSUP) && !errors.Is(err, unix.EPERM) {
			return fmt.Errorf("xattr %s: %w", name, err)
		}
	}
	if m.Mode.IsDir() {
		return nil // directories get their time at the end, after their contents
	}
	ts := []unix.Timespec{unix.NsecToTimespec(m.ModTime.UnixNano()), unix.NsecToTimespec(m.ModTime.UnixNano())}
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
