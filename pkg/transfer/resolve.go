// Package transfer moves images between the local store and the outside
// world: registries (pull, push), archives (load, save). It joins the store,
// registry, archive and progress packages so that cmd/ only parses flags.
package transfer

import (
	"errors"
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/gantry-build/gantry/pkg/platform"
	"github.com/gantry-build/gantry/pkg/reference"
	"github.com/gantry-build/gantry/pkg/store"
)

// Resolve finds what the user means by arg in the store: a name in Docker's
// short or long form (busybox, docker.io/library/busybox:latest), a
// manifest digest prefix, or an image ID prefix (config digest), as docker
// accepts image IDs.
func Resolve(st *store.Store, arg string) (store.Entry, error) {
	ref, perr := reference.Parse(arg)
	if perr == nil {
		e, err := st.Get(reference.Canonical(ref))
		if err == nil {
			return e, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return e, err
		}
	}
	if looksLikeDigest(arg) {
		if e, err := st.FindDigest(arg); err == nil {
			return e, nil
		} else if !errors.Is(err, store.ErrNotFound) {
			return e, err
		}
		if e, err := findImageID(st, arg); err == nil {
			return e, nil
		} else if !errors.Is(err, store.ErrNotFound) {
			return e, err
		}
	}
	if perr != nil {
		return store.Entry{}, perr
	}
	return store.Entry{}, &NotStoredError{Arg: arg}
}

// ErrPlatformMismatch is an image that is not for the platform asked for.
var ErrPlatformMismatch = errors.New("image does not match the specified platform")

func displayName(e store.Entry) string {
	if e.Name != "" {
		return e.Name
	}
	return e.Descriptor.Digest.String()
}

// NotStoredError is an image name the store does not hold.
type NotStoredError struct{ Arg string }

func (e *NotStoredError) Error() string {
	return fmt.Sprintf("no such image: %s: it is not in the local store (gantry pull %s fetches it)", e.Arg, e.Arg)
}

func (e *NotStoredError) Unwrap() error { return store.ErrNotFound }

func looksLikeDigest(s string) bool {
	s = strings.TrimPrefix(s, "sha256:")
	if len(s) < 4 || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !strings.ContainsRune("0123456789abcdef", r) {
			return false
		}
	}
	return true
}

// ImageOf opens the image an entry names. For an index it is the image for
// want (nil: the host's platform).
// A single-platform image of another platform than want is an error
// wrapping ErrPlatformMismatch, never a silent substitute.
func ImageOf(st *store.Store, e store.Entry, want *v1.Platform) (v1.Image, v1.Descriptor, error) {
	if !e.IsIndex() {
		img, err := st.Image(e.Descriptor.Digest)
		if err != nil || want == nil {
			return img, e.Descriptor, err
		}
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, v1.Descriptor{}, err
		}
		if have := platform.OfConfig(cf); have.OS != "" && platform.Rank(*want, have) == 0 {
			return nil, v1.Descriptor{}, fmt.Errorf("%s: %w: wanted %s, actual: %s", displayName(e), ErrPlatformMismatch, platform.String(*want), platform.String(have))
		}
		return img, e.Descriptor, nil
	}
	idx, err := st.Index(e.Descriptor.Digest)
	if err != nil {
		return nil, v1.Descriptor{}, err
	}
	return PickImage(idx, want, e.Name)
}

// PickImage returns the image of idx for want (nil: host), descending into
// nested indexes.
func PickImage(idx v1.ImageIndex, want *v1.Platform, what string) (v1.Image, v1.Descriptor, error) {
	p := platform.Host()
	if want != nil {
		p = *want
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, v1.Descriptor{}, err
	}
	i, err := platform.Pick(im.Manifests, p)
	if err != nil {
		return nil, v1.Descriptor{}, fmt.Errorf("%s: %w", what, err)
	}
	d := im.Manifests[i]
	img, err := idx.Image(d.Digest)
	return img, d, err
}
