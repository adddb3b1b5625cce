// Package archive reads and writes the tar archives images travel in: the
// archives of `docker save` from every Docker generation (pre-1.10 legacy
// `repositories` chains, 1.10–24 `manifest.json` + `<id>/layer.tar`, 25+ OCI
// layout + `manifest.json`), OCI image layout tars and directories, plain or
// compressed.
//
// Save writes one archive that both old and new `docker load` accept; Open and
// Images give back go-containerregistry images whose bytes are served straight
// from the archive and verified against their digests while they are read.
package archive

import (
	"errors"
	"fmt"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Item is one image to save, under zero or more tags.
type Item struct {
	Names []name.Tag
	Image v1.Image      // set for a single-platform image
	Index v1.ImageIndex // set for a multi-platform image (then Image is nil)
}

// SaveOptions says how Save writes the archive.
type SaveOptions struct {
	// Format is "docker" (the default when "") or "oci".
	Format string
	// Platform picks the image of a multi-platform item that manifest.json
	// names in the docker format; nil means the host platform, matched the
	// way containerd matches it.
	Platform *v1.Platform
	// OCIMediaTypes makes the oci format rewrite Docker media types in
	// manifests and indexes to OCI ones, for readers such as umoci that
	// accept nothing else. The blobs stay the same but the rewritten
	// manifests get new digests, so it is off unless asked for.
	OCIMediaTypes bool
	// CompressedLayers makes the docker format keep layers as they are
	// stored (gzip) under blobs/ with <v1 id>/layer.tar linking to them,
	// instead of the uncompressed tars docker save writes: a third of the
	// size and no decompression. Every docker load since 1.10 reads it;
	// tools that untar layer.tar by hand do not.
	CompressedLayers bool
	// TempDir holds uncompressed layers while their size is measured for the
	// tar header; "" means os.TempDir().
	TempDir string
}

// Loaded is one image found in an archive.
type Loaded struct {
	Names []name.Tag
	Image v1.Image      // single-platform images
	Index v1.ImageIndex // multi-platform (OCI layout with an index entry)
}

// Item returns the loaded image as an Item, to save it again.
func (l Loaded) Item() Item { return Item(l) }

// ErrNotImageArchive is returned (wrapped) by Images when the archive holds
// none of the files that mark an image archive.
var ErrNotImageArchive = errors.New("not a docker or OCI image archive (no manifest.json, repositories or index.json)")

// Archive is an opened archive. Images and layers read from it stay valid
// until Close.
type Archive struct {
	path    string // as the caller spelled it, for messages
	src     source
	cleanup func() error

	mu     sync.Mutex
	layers map[string]*fileDigest // by resolved file name, shared across images
}

// Close releases the archive and removes any temporary decompressed copy.
func (a *Archive) Close() error {
	if a.cleanup == nil {
		return nil
	}
	err := a.cleanup()
	a.cleanup = nil
	return err
}

// errorf makes the one-line error that names the archive first.
func (a *Archive) errorf(format string, args ...any) error {
	return fmt.Errorf("archive %s: "+format, append([]any{a.path}, args...)...)
}
