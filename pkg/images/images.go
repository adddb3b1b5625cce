// Package images turns what a user names into an image: scratch, a stored
// image (an index's child picked for the platform once, here), or a remote
// image read lazily from its registry. It also holds Artifact, the one model
// of "an image or an index" that builds produce and outputs consume.
package images

import (
	"context"
	"errors"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/gantry-build/gantry/pkg/platform"
	"github.com/gantry-build/gantry/pkg/registry"
	"github.com/gantry-build/gantry/pkg/store"
	"github.com/gantry-build/gantry/pkg/transfer"
)

// Resolve finds the image ref names for want (nil: the host's platform):
// scratch, the store, or the registry without storing anything. A stored
// image pulled from a registry keeps that origin on its layers, so that a
// push to the same registry mounts them instead of uploading them again.
func Resolve(ctx context.Context, st *store.Store, rc *registry.Client, ref string, want *v1.Platform) (v1.Image, error) {
	if ref == "" {
		return nil, errors.New("no base image: give --from IMAGE, or --from scratch")
	}
	if ref == "scratch" {
		return Scratch(want)
	}
	if e, err := transfer.Resolve(st, ref); err == nil {
		img, _, err := transfer.ImageOf(st, e, want)
		if errors.Is(err, transfer.ErrPlatformMismatch) {
			// The store has the name for another platform: the registry
			// may have this one.
			return remoteImage(ctx, st, rc, ref, want)
		}
		if err != nil {
			return nil, err
		}
		if src := e.Source(); src != "" {
			if r, err := rc.ParseReference(src + ":mount"); err == nil {
				return &mountableImage{Image: img, from: r}, nil
			}
		}
		return img, nil
	}
	return remoteImage(ctx, st, rc, ref, want)
}

// remoteImage is ref read from its registry, its config kept in st.
func remoteImage(ctx context.Context, st *store.Store, rc *registry.Client, ref string, want *v1.Platform) (v1.Image, error) {
	rm, err := transfer.RemoteImage(ctx, rc, ref, want)
	if err != nil {
		return nil, fmt.Errorf("base image: %w", err)
	}
	img := st.WithKeptConfig(rm.Image)
	if want != nil && rm.Index == nil {
		cf, err := img.ConfigFile()
		if err == nil && !platform.Matches(*want, platform.OfConfig(cf)) {
			return nil, fmt.Errorf("base image %s is %s only, not %s", ref, platform.String(platform.OfConfig(cf)), platform.String(*want))
		}
	}
	return img, nil
}

// Scratch is the empty image for want (nil: host), with a Docker media type
// as BuildKit's scratch has.
func Scratch(want *v1.Platform) (v1.Image, error) {
	p := platform.Host()
	if want != nil {
		p = *want
	}
	img := mutate.MediaType(empty.Image, types.DockerManifestSchema2)
	img = mutate.ConfigMediaType(img, types.DockerConfigJSON)
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
	if cf.Architecture != "arm" && cf.Architecture != "arm64" {
		cf.Variant = ""
	}
	cf.RootFS.Type = "layers"
	return mutate.ConfigFile(img, cf)
}
