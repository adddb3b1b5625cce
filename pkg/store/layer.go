package store

import (
	"crypto/sha256"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Layer returns the stored blob d, whose uncompressed content hashes to
// diffID, as a layer.
func (s *Store) Layer(d v1.Descriptor, diffID v1.Hash) (v1.Layer, error) {
	if !s.HasBlob(d.Digest) {
		return nil, fmt.Errorf("layer %s: %w", d.Digest, ErrNotFound)
	}
	return &storedLayer{storedBlob: storedBlob{s: s, d: d}, diffID: diffID}, nil
}

type storedLayer struct {
	storedBlob
	diffID v1.Hash
}

func (l *storedLayer) DiffID() (v1.Hash, error) { return l.diffID, nil }

// Compressed is the blob, fetched first if it was stored lazily.
func (l *storedLayer) Compressed() (io.ReadCloser, error) {
	if err := l.s.ensureBlob(l.d, l.diffID); err != nil {
		return nil, err
	}
	return l.storedBlob.Compressed()
}

// Uncompressed is the layer's tar, checked against the diff ID at its end:
// whatever unpacks it (into the unpacked-tree cache, keyed by diff IDs)
// reads to the end and fails on a mismatch, however the blob got here.
func (l *storedLayer) Uncompressed() (io.ReadCloser, error) {
	if err := l.s.ensureBlob(l.d, l.diffID); err != nil {
		return nil, err
	}
	f, err := l.s.OpenBlob(l.d.Digest)
	if err != nil {
		return nil, err
	}
	zr, err := Decompress(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("layer %s: %w", l.d.Digest, err)
	}
	rc := &closeBoth{Reader: zr, close: func() error { zr.Close(); return f.Close() }}
	return &verifyingReader{rc: rc, h: sha256.New(), want: l.diffID, blob: l.d.Digest}, nil
}

type closeBoth struct {
	io.Reader
	close func() error
}

func (c *closeBoth) Close() error { return c.close() }

// IsUncompressed tells layer media types whose blob is the tar itself.
func IsUncompressed(mt types.MediaType) bool {
	return mt == types.DockerUncompressedLayer || mt == types.OCIUncompressedLayer || mt == types.OCIUncompressedRestrictedLayer
}
