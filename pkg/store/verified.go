package store

import (
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Verified returns img with layers whose uncompressed content is checked
// against the config's diff IDs at its end (go-containerregistry checks only
// compressed digests): whatever unpacks a layer into the tree cache, keyed
// by those diff IDs, reads it to the end and fails on a lie. Images read
// straight from a registry (build bases) never pass through WriteImage's
// checks; stored ones may come from a gantry that made none.
func Verified(img v1.Image) v1.Image {
	if v, ok := img.(verifiedImage); ok {
		return v
	}
	return verifiedImage{img}
}

type verifiedImage struct{ v1.Image }

func (i verifiedImage) Layers() ([]v1.Layer, error) {
	ls, err := i.Image.Layers()
	if err != nil {
		return nil, err
	}
	out := make([]v1.Layer, len(ls))
	for n, l := range ls {
		out[n] = verifyLayer(l)
	}
	return out, nil
}

func (i verifiedImage) LayerByDigest(h v1.Hash) (v1.Layer, error) {
	l, err := i.Image.LayerByDigest(h)
	if err != nil {
		return nil, err
	}
	if c, err := i.Image.ConfigName(); err == nil && c == h {
		return l, nil // the config blob is no layer
	}
	return verifyLayer(l), nil
}

func (i verifiedImage) LayerByDiffID(h v1.Hash) (v1.Layer, error) {
	l, err := i.Image.LayerByDiffID(h)
	if err != nil {
		return nil, err
	}
	return verifyLayer(l), nil
}

// Descriptor and ConfigLayer keep what go-containerregistry's remote image
// offers through them (the index descriptor, a mountable config).
func (i verifiedImage) Descriptor() (*v1.Descriptor, error) { return partial.Descriptor(i.Image) }
func (i verifiedImage) ConfigLayer() (v1.Layer, error)      { return partial.ConfigLayer(i.Image) }

// verifyLayer wraps l, keeping it mountable across repositories on push
// when it was.
func verifyLayer(l v1.Layer) v1.Layer {
	if ml, ok := l.(*remote.MountableLayer); ok {
		return &remote.MountableLayer{Layer: verifiedLayer{ml.Layer}, Reference: ml.Reference}
	}
	return verifiedLayer{l}
}

type verifiedLayer struct{ v1.Layer }

func (l verifiedLayer) Uncompressed() (io.ReadCloser, error) {
	diffID, err := l.DiffID()
	if err != nil {
		return nil, err
	}
	digest, err := l.Digest()
	if err != nil {
		return nil, err
	}
	rc, err := l.Layer.Uncompressed()
	if err != nil {
		return nil, err
	}
	return VerifyUncompressed(rc, digest, diffID), nil
}

func (l verifiedLayer) Descriptor() (*v1.Descriptor, error) { return partial.Descriptor(l.Layer) }
func (l verifiedLayer) Exists() (bool, error)               { return partial.Exists(l.Layer) }
