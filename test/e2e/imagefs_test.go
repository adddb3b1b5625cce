package e2e

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// fsEntry is what the comparison sees of one path of a flattened image.
// Times are left out: the two builders stamp them differently by design.
type fsEntry struct {
	typ          byte   // tar type flag; a hard link is recorded as what it links to
	mode         int64  // permission bits with setuid, setgid and sticky
	uid, gid     int    //
	link         string // symlink target
	sum          string // sha256 of a regular file's content
	head         string // its first bytes, to show in a difference
	major, minor int64  // device numbers of char and block devices
	xattrs       string // sorted name=value pairs, "" when none
}

func (f fsEntry) String() string {
	kind := map[byte]string{tar.TypeReg: "file", tar.TypeDir: "dir", tar.TypeSymlink: "symlink",
		tar.TypeChar: "char", tar.TypeBlock: "block", tar.TypeFifo: "fifo"}[f.typ]
	if kind == "" {
		kind = fmt.Sprintf("type %q", f.typ)
	}
	s := fmt.Sprintf("%s %04o %d:%d", kind, f.mode, f.uid, f.gid)
	switch f.typ {
	case tar.TypeReg:
		s += fmt.Sprintf(" sha256:%s %q", f.sum[:12], f.head)
	case tar.TypeSymlink:
		s += " -> " + f.link
	case tar.TypeChar, tar.TypeBlock:
		s += fmt.Sprintf(" %d,%d", f.major, f.minor)
	}
	if f.xattrs != "" {
		s += " xattrs{" + f.xattrs + "}"
	}
	return s
}

// imageFS is a flattened root filesystem: clean absolute path → entry.
type imageFS map[string]fsEntry

// flattenImage applies an image's layers in order, in memory, as a
// container runtime would lay them out. It is written for the tests and
// shares no code with gantry's own unpacking, so that a bug there cannot
// hide in the comparison.
func flattenImage(img v1.Image) (imageFS, error) {
	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("list layers: %w", err)
	}
	fs := imageFS{}
	for i, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			return nil, fmt.Errorf("open layer %d: %w", i, err)
		}
		err = fs.apply(rc)
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("layer %d: %w", i, err)
		}
	}
	return fs, nil
}

type layerEntry struct {
	name      string
	hdr       *tar.Header
	sum, head string
}

// limitedWriter keeps the first n bytes written and takes the rest unseen.
type limitedWriter struct {
	buf *bytes.Buffer
	n   int
}

func (w *limitedWriter) Write(p []byte) (int, error) {
	if room := w.n - w.buf.Len(); room > 0 {
		w.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

// apply lays one uncompressed layer tar over fs. Whiteouts and opaque
// markers hide what the layers below hold, never what this layer adds
// (whatever order the tar lists them in), so they are applied first.
func (fs imageFS) apply(r io.Reader) error {
	var entries []layerEntry
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		e := layerEntry{name: cleanPath(h.Name), hdr: h}
		if h.Typeflag == tar.TypeReg || h.Typeflag == tar.TypeRegA {
			s := sha256.New()
			var head bytes.Buffer
			if _, err := io.Copy(io.MultiWriter(s, &limitedWriter{&head, 48}), tr); err != nil {
				return fmt.Errorf("read %s: %w", h.Name, err)
			}
			e.sum, e.head = fmt.Sprintf("%x", s.Sum(nil)), head.String()
		}
		entries = append(entries, e)
	}
	for _, e := range entries {
		dir, base := path.Split(e.name)
		switch {
		case base == ".wh..wh..opq":
			fs.removeUnder(path.Clean(dir))
		case strings.HasPrefix(base, ".wh."):
			fs.remove(path.Join(dir, strings.TrimPrefix(base, ".wh.")))
		}
	}
	for _, e := range entries {
		if e.name == "/" || strings.HasPrefix(path.Base(e.name), ".wh.") {
			continue
		}
		h := e.hdr
		var fe fsEntry
		if h.Typeflag == tar.TypeLink {
			target, ok := fs[cleanPath(h.Linkname)]
			if !ok {
				return fmt.Errorf("hard link %s to %s, which no layer holds", h.Name, h.Linkname)
			}
			fe = target
		} else {
			fe = fsEntry{typ: h.Typeflag, mode: h.Mode & 0o7777, uid: h.Uid, gid: h.Gid, sum: e.sum, head: e.head}
			if fe.typ == tar.TypeRegA {
				fe.typ = tar.TypeReg
			}
			switch h.Typeflag {
			case tar.TypeSymlink:
				fe.link = h.Linkname
			case tar.TypeChar, tar.TypeBlock:
				fe.major, fe.minor = h.Devmajor, h.Devminor
			}
			fe.xattrs = xattrsOf(h)
		}
		// A directory replacing a non-directory, or the other way round,
		// takes the place of all that was there: nothing of an old tree
		// shows through a file put in its place and then a new directory.
		if old, ok := fs[e.name]; ok && (old.typ == tar.TypeDir) != (fe.typ == tar.TypeDir) {
			fs.remove(e.name)
		}
		fs[e.name] = fe
	}
	return nil
}

// remove deletes p and everything under it.
func (fs imageFS) remove(p string) {
	delete(fs, p)
	fs.removeUnder(p)
}

// removeUnder deletes everything under directory p, keeping p.
func (fs imageFS) removeUnder(p string) {
	prefix := strings.TrimSuffix(p, "/") + "/"
	for name := range fs {
		if strings.HasPrefix(name, prefix) {
			delete(fs, name)
		}
	}
}

func cleanPath(name string) string {
	return path.Clean("/" + name)
}

func xattrsOf(h *tar.Header) string {
	var kv []string
	for k, v := range h.PAXRecords {
		if name, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok {
			kv = append(kv, name+"="+v)
		}
	}
	sort.Strings(kv)
	return strings.Join(kv, ",")
}

// diffFS lists how got differs from want, path by path, leaving out the
// paths (and what is under them) in ignore.
func diffFS(want, got imageFS, wantName, gotName string, ignore []string) []string {
	ignored := func(p string) bool {
		for _, i := range ignore {
			if i = cleanPath(i); p == i || strings.HasPrefix(p, strings.TrimSuffix(i, "/")+"/") {
				return true
			}
		}
		return false
	}
	names := map[string]bool{}
	for p := range want {
		names[p] = true
	}
	for p := range got {
		names[p] = true
	}
	sorted := make([]string, 0, len(names))
	for p := range names {
		if !ignored(p) {
			sorted = append(sorted, p)
		}
	}
	sort.Strings(sorted)
	var diffs []string
	for _, p := range sorted {
		w, inWant := want[p]
		g, inGot := got[p]
		switch {
		case !inGot:
			diffs = append(diffs, fmt.Sprintf("%s: only in %s (%v)", p, wantName, w))
		case !inWant:
			diffs = append(diffs, fmt.Sprintf("%s: only in %s (%v)", p, gotName, g))
		case w != g:
			diffs = append(diffs, fmt.Sprintf("%s: %s %v, %s %v", p, wantName, w, gotName, g))
		}
	}
	return diffs
}
