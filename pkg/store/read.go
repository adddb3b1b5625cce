package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Image returns the stored image with manifest digest h. Its blobs are read
// lazily from the store and verified by whoever consumes them.
//
// layout.Path.Image only finds digests listed in index.json; the store must
// also open platform images inside an index and images known only by digest.
func (s *Store) Image(h v1.Hash) (v1.Image, error) {
	raw, err := s.ReadBlob(h)
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", h, ErrNotFound)
	}
	mt, err := mediaTypeOf(raw)
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", h, err)
	}
	if mt.IsIndex() {
		return nil, fmt.Errorf("%s is a multi-platform index, not an image", h)
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", h, err)
	}
	img := &storedImage{s: s, raw: raw, m: m, mt: mt}
	img.diffIDs = sync.OnceValue(func() []v1.Hash {
		raw, err := img.RawConfigFile()
		if err != nil {
			return nil
		}
		cf, err := v1.ParseConfigFile(bytes.NewReader(raw))
		if err != nil {
			return nil
		}
		return cf.RootFS.DiffIDs
	})
	out, err := partial.CompressedToImage(img)
	if err != nil {
		return nil, err
	}
	return Verified(out), nil
}

// Index returns the stored index with digest h.
func (s *Store) Index(h v1.Hash) (v1.ImageIndex, error) {
	raw, err := s.ReadBlob(h)
	if err != nil {
		return nil, fmt.Errorf("index %s: %w", h, ErrNotFound)
	}
	mt, err := mediaTypeOf(raw)
	if err != nil {
		return nil, fmt.Errorf("index %s: %w", h, err)
	}
	if !mt.IsIndex() {
		return nil, fmt.Errorf("%s is an image manifest, not an index", h)
	}
	im, err := v1.ParseIndexManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("index %s: %w", h, err)
	}
	return &storedIndex{s: s, raw: raw, im: im, mt: mt, digest: h}, nil
}

// mediaTypeOf reads a manifest's mediaType field, telling indexes from images
// by their shape when the field is missing (allowed by OCI).
func mediaTypeOf(raw []byte) (types.MediaType, error) {
	var probe struct {
		MediaType types.MediaType `json:"mediaType"`
		Manifests json.RawMessage `json:"manifests"`
		Config    json.RawMessage `json:"config"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return "", fmt.Errorf("manifest is not JSON: %w", err)
	}
	switch {
	case probe.MediaType != "":
		return probe.MediaType, nil
	case probe.Manifests != nil:
		return types.OCIImageIndex, nil
	case probe.Config != nil:
		return types.OCIManifestSchema1, nil
	}
	return "", fmt.Errorf("manifest has no mediaType, config or manifests")
}

type storedImage struct {
	s   *Store
	raw []byte
	m   *v1.Manifest
	mt  types.MediaType

	diffIDs func() []v1.Hash // the config's, read once
}

func (i *storedImage) RawManifest() ([]byte, error)        { return i.raw, nil }
func (i *storedImage) MediaType() (types.MediaType, error) { return i.mt, nil }
func (i *storedImage) RawConfigFile() ([]byte, error) {
	b, err := i.s.ReadBlob(i.m.Config.Digest)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", i.m.Config.Digest, err)
	}
	return b, nil
}

func (i *storedImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if h == i.m.Config.Digest {
		return &storedBlob{s: i.s, d: i.m.Config}, nil
	}
	for n, l := range i.m.Layers {
		if l.Digest != h {
			continue
		}
		// The diff ID comes from the config: go-containerregistry would
		// otherwise decompress the whole layer to compute it.
		if ids := i.diffIDs(); len(ids) == len(i.m.Layers) {
			return &storedLayer{storedBlob: storedBlob{s: i.s, d: l}, diffID: ids[n]}, nil
		}
		return &storedBlob{s: i.s, d: l}, nil
	}
	return nil, fmt.Errorf("layer %s is not in this image", h)
}

type storedBlob struct {
	s *Store
	d v1.Descriptor
}

func (b *storedBlob) Digest() (v1.Hash, error)            { return b.d.Digest, nil }
func (b *storedBlob) Size() (int64, error)                { return b.d.Size, nil }
func (b *storedBlob) MediaType() (types.MediaType, error) { return b.d.MediaType, nil }
func (b *storedBlob) Compressed() (io.ReadCloser, error) {
	if !b.s.HasBlob(b.d.Digest) {
		if _, ok := b.s.BlobSource(b.d.Digest); ok {
			return nil, fmt.Errorf("blob %s is still in its registry and its diff ID is unknown here: %w", b.d.Digest, ErrNotFound)
		}
	}
	f, err := b.s.OpenBlob(b.d.Digest)
	if err != nil {
		return nil, err
	}
	return VerifiedFile{f}, nil
}

// VerifiedFile is a stored blob opened for reading. Its digest was checked
// when it was stored (nothing reaches its final name otherwise), so a
// reader that copies it whole, such as save, need not hash it again.
type VerifiedFile struct{ *os.File }

// DigestVerified marks the reader as checked already.
func (VerifiedFile) DigestVerified() {}

// Descriptor lets partial.Descriptor keep URLs and annotations of foreign
// layers when the image is written elsewhere.
func (b *storedBlob) Descriptor() (*v1.Descriptor, error) { d := b.d; return &d, nil }

type storedIndex struct {
	s      *Store
	raw    []byte
	im     *v1.IndexManifest
	mt     types.MediaType
	digest v1.Hash
}

func (x *storedIndex) MediaType() (types.MediaType, error)         { return x.mt, nil }
func (x *storedIndex) Digest() (v1.Hash, error)                    { return x.digest, nil }
func (x *storedIndex) Size() (int64, error)                        { return int64(len(x.raw)), nil }
func (x *storedIndex) IndexManifest() (*v1.IndexManifest, error)   { return x.im, nil }
func (x *storedIndex) RawManifest() ([]byte, error)                { return x.raw, nil }
func (x *storedIndex) Image(h v1.Hash) (v1.Image, error)           { return x.s.Image(h) }
func (x *storedIndex) ImageIndex(h v1.Hash) (v1.ImageIndex, error) { return x.s.Index(h) }
