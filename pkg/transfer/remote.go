package transfer

import (
	"context"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/gantry-build/gantry/pkg/reference"
	"github.com/gantry-build/gantry/pkg/registry"
	"github.com/gantry-build/gantry/pkg/store"
)

// Remote is an image read straight from a registry, nothing stored.
type Remote struct {
	Image v1.Image
	// Index is set when the reference named a multi-platform index, from
	// which Image was picked.
	Index       *v1.IndexManifest
	IndexDigest v1.Hash
	RawIndex    []byte
}

// RemoteImage fetches the manifest of refStr and, for an index, the image for
// want (nil: host).
func RemoteImage(ctx context.Context, rc *registry.Client, refStr string, want *v1.Platform) (*Remote, error) {
	ref, err := rc.ParseReference(refStr)
	if err != nil {
		return nil, err
	}
	desc, err := rc.Get(ctx, ref)
	if err != nil {
		return nil, err
	}
	switch {
	case desc.MediaType.IsIndex():
		idx, err := desc.ImageIndex()
		if err != nil {
			return nil, malformed(ref, err)
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return nil, malformed(ref, err)
		}
		if err := store.CheckIndex(im); err != nil {
			return nil, malformed(ref, err)
		}
		img, _, err := PickImage(idx, want, reference.Familiar(ref))
		if err != nil {
			return nil, err
		}
		if err := checkImage(img); err != nil {
			return nil, malformed(ref, err)
		}
		return &Remote{Image: store.Verified(img), Index: im, IndexDigest: desc.Digest, RawIndex: desc.Manifest}, nil
	case desc.MediaType.IsImage() && !desc.MediaType.IsSchema1():
		img, err := desc.Image()
		if err != nil {
			return nil, malformed(ref, err)
		}
		if err := checkImage(img); err != nil {
			return nil, malformed(ref, err)
		}
		return &Remote{Image: store.Verified(img)}, nil
	}
	return nil, fmt.Errorf("%s: unsupported manifest media type %q", reference.Familiar(ref), desc.MediaType)
}

// checkImage refuses a manifest beyond the store's limits before its config
// is fetched.
func checkImage(img v1.Image) error {
	m, err := img.Manifest()
	if err != nil {
		return err
	}
	return store.CheckManifest(m)
}
