//go:build linux

package sandbox

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"

	"github.com/gantry-build/gantry/pkg/rootfs"
)

// Apply lays a layer (a COPY's, as it is written) straight onto "/", as
// kaniko's COPY does: a stage whose next RUN needs its files in "/" writes
// them once, not into the unpacked-tree cache and then again over "/". The
// kept paths stay alone, however the layer names them (through a link of
// the image's, too). The snapshot is taken again, so that the next step's
// changes are its own; Assume then names the tree. A stream without
// entries (a COPY the content cache knew tees nothing) changes nothing and
// keeps the snapshot: the root is not walked again for it.
func (h *HostRoot) Apply(r io.Reader) error {
	if h.snap == nil {
		return errors.New("container isolation: no image laid")
	}
	pr, pw := io.Pipe()
	filtered := make(chan error, 1)
	entries := 0 // in the layer, kept paths' too; read once filtered is
	go func() {
		err := h.keepOut(r, pw, &entries)
		pw.CloseWithError(err)
		filtered <- err
	}()
	err := rootfs.Apply(h.root, pr)
	pr.CloseWithError(io.ErrClosedPipe) // the filter stops if Apply did
	if ferr := <-filtered; err == nil && !errors.Is(ferr, io.ErrClosedPipe) {
		err = ferr
	}
	if err == nil && entries == 0 {
		return nil
	}
	h.laid = "" // until Assume: "/" is the parent's tree no more
	if err != nil {
		return fmt.Errorf("laying the layer over the container's root filesystem: %w", err)
	}
	snap, err := rootfs.TakeSnapshot(h.root, h.keep.Skip)
	if err != nil {
		return err
	}
	h.snap = snap
	return nil
}

// keepOut copies the layer tar r to w without the entries that would land
// on a kept path: by name, or through a link in "/" on the way there, and
// hard links to kept files. The image's own /dev, /proc and /sys are noted.
func (h *HostRoot) keepOut(r io.Reader, w io.Writer, entries *int) error {
	tr, tw := tar.NewReader(r), tar.NewWriter(w)
	keptDirs := map[string]bool{} // a folder's verdict, for all its entries
	links := map[string]bool{}    // the layer's own symbolic links
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return tw.Close()
		}
		if err != nil {
			return err
		}
		*entries++
		rel := strings.TrimPrefix(path.Clean("/"+hdr.Name), "/")
		if top, _, _ := strings.Cut(rel, "/"); top != "" {
			for _, d := range runtimeDirs {
				if top == d {
					h.mountDirs[d] = true
				}
			}
		}
		if h.kept(rel, keptDirs) || hdr.Typeflag == tar.TypeLink && h.kept(strings.TrimPrefix(path.Clean("/"+hdr.Linkname), "/"), keptDirs) ||
			belowLink(rel, links) {
			continue
		}
		if hdr.Typeflag == tar.TypeSymlink {
			links[rel] = true
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return err
		}
	}
}

// belowLink tells whether rel lies below one of the layer's own symbolic
// links: "/" is resolved as it was before the layer (kept), so an entry
// written through a link the same layer makes is left out. A COPY's layer,
// made from a walk of real folders, has none.
func belowLink(rel string, links map[string]bool) bool {
	for dir := path.Dir(rel); dir != "." && dir != "/"; dir = path.Dir(dir) {
		if links[dir] {
			return true
		}
	}
	return false
}

// kept tells whether the path rel of "/" is a kept one, by its name or
// where the links of "/" on the way lead; dirs remembers each folder's
// verdict (a layer lists many entries of one folder; the layer's own links
// are belowLink's).
func (h *HostRoot) kept(rel string, dirs map[string]bool) bool {
	if rel == "" {
		return false
	}
	if h.keep.Skip(rel) {
		return true
	}
	parent := path.Dir(rel)
	if k, ok := dirs[parent]; ok {
		return k
	}
	k := h.keptDir(parent)
	dirs[parent] = k
	return k
}

// keptDir tells whether the folder dir of "/", resolved through the links
// of "/", is or lies below a kept path.
func (h *HostRoot) keptDir(dir string) bool {
	full, err := securejoin.SecureJoin(h.root, dir)
	if err != nil {
		return true
	}
	resolved, err := filepath.Rel(h.root, full)
	if err != nil {
		return true
	}
	resolved = filepath.ToSlash(resolved)
	return resolved != "." && h.keep.Skip(resolved)
}
