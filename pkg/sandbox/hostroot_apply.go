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
// changes are its own; Assume then names the tree.
func (h *HostRoot) Apply(r io.Reader) error {
	if h.snap == nil {
		return errors.New("container isolation: no image laid")
	}
	h.laid = "" // until Assume: "/" is the parent's tree no more
	pr, pw := io.Pipe()
	filtered := make(chan error, 1)
	go func() {
		err := h.keepOut(r, pw)
		pw.CloseWithError(err)
		filtered <- err
	}()
	err := rootfs.Apply(h.root, pr)
	pr.CloseWithError(io.ErrClosedPipe) // the filter stops if Apply did
	if ferr := <-filtered; err == nil && !errors.Is(ferr, io.ErrClosedPipe) {
		err = ferr
	}
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
func (h *HostRoot) keepOut(r io.Reader, w io.Writer) error {
	tr, tw := tar.NewReader(r), tar.NewWriter(w)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return tw.Close()
		}
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(path.Clean("/"+hdr.Name), "/")
		if top, _, _ := strings.Cut(rel, "/"); top != "" {
			for _, d := range runtimeDirs {
				if top == d {
					h.mountDirs[d] = true
				}
			}
		}
		if h.kept(rel) || hdr.Typeflag == tar.TypeLink && h.kept(strings.TrimPrefix(path.Clean("/"+hdr.Linkname), "/")) {
			continue
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return err
		}
	}
}

// kept tells whether the path rel of "/" is a kept one, by its name or
// where the links of "/" on the way lead.
func (h *HostRoot) kept(rel string) bool {
	if rel == "" {
		return false
	}
	if h.keep.Skip(rel) {
		return true
	}
	dir, err := securejoin.SecureJoin(h.root, path.Dir(rel))
	if err != nil {
		return true
	}
	resolved, err := filepath.Rel(h.root, dir)
	if err != nil {
		return true
	}
	resolved = filepath.ToSlash(resolved)
	return resolved != "." && h.keep.Skip(resolved)
}
