package transfer

import (
	"bytes"
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/gantry-build/gantry/pkg/platform"
	"github.com/gantry-build/gantry/pkg/progress"
	"github.com/gantry-build/gantry/pkg/reference"
	"github.com/gantry-build/gantry/pkg/registry"
	"github.com/gantry-build/gantry/pkg/store"
)

// PullOptions choose what of a multi-platform image is kept.
type PullOptions struct {
	Platform     *v1.Platform // nil: the host's
	AllPlatforms bool         // keep the whole index
	Progress     progress.Reporter
	// OnImage, when set, gets the image about to be stored, before its
	// layers are fetched (not for --all-platforms pulls); Stored is told of
	// each layer blob as it lands. Together they let save stream an image
	// while it is pulled.
	OnImage func(v1.Image)
	Stored  func(v1.Hash)
}

// PullResult tells what a pull did.
type PullResult struct {
	Name     string  // canonical name the image is stored under
	Digest   v1.Hash // what the registry serves for the reference (the index for multi-platform images)
	Stored   v1.Descriptor
	UpToDate bool // nothing needed fetching
}

// Pull fetches ref into the store. An unchanged tag already pulled for the
// same platform costs one manifest request; blobs already stored are never
// fetched again.
func Pull(ctx context.Context, st *store.Store, rc *registry.Client, refStr string, opts PullOptions) (PullResult, error) {
	rep := opts.Progress
	if rep == nil {
		rep = progress.Nop()
	}
	ref, err := rc.ParseReference(refStr)
	if err != nil {
		return PullResult{}, err
	}
	res := PullResult{Name: reference.Canonical(ref)}
	want := platform.Host()
	if opts.Platform != nil {
		want = platform.Normalize(*opts.Platform)
	}

	// A digest reference already stored needs no request at all.
	if d, ok := ref.(name.Digest); ok {
		if h, err := v1.NewHash(d.DigestStr()); err == nil && st.HasBlob(h) {
			if e, err := st.Get(res.Name); err == nil && upToDate(st, e, h, want, opts) {
				return PullResult{Name: res.Name, Digest: h, Stored: e.Descriptor, UpToDate: true}, nil
			}
		}
	}

	done, err := st.Writing()
	if err != nil {
		return res, err
	}
	defer done()

	desc, err := rc.Get(ctx, ref)
	if err != nil {
		return res, err
	}
	res.Digest = desc.Digest
	if err := checkManifest(desc); err != nil {
		return res, malformed(ref, err)
	}
	if e, err := st.Get(res.Name); err == nil && upToDate(st, e, desc.Digest, want, opts) && st.HasBlob(e.Descriptor.Digest) {
		res.Stored, res.UpToDate = e.Descriptor, true
		return res, nil
	}

	// Remote layers hash what they serve and fail on a mismatch.
	wopts := store.WriteOptions{Jobs: rc.Jobs(), Progress: rep, SourceVerifies: true, Stored: opts.Stored}
	var stored v1.Descriptor
	switch {
	case desc.MediaType.IsIndex() && opts.AllPlatforms:
		idx, err := desc.ImageIndex()
		if err != nil {
			return res, malformed(ref, err)
		}
		if stored, err = st.WriteIndex(ctx, idx, wopts); err != nil {
			return res, fmt.Errorf("pull %s: %w", reference.Familiar(ref), err)
		}
	case desc.MediaType.IsIndex():
		if stored, err = pullPlatform(ctx, st, desc, want, ref, wopts, opts.OnImage); err != nil {
			return res, err
		}
	case desc.MediaType.IsSchema1():
		return res, fmt.Errorf("%s uses Docker's deprecated schema 1 manifest, which gantry does not read: push it again with a current Docker", reference.Familiar(ref))
	case desc.MediaType.IsImage():
		img, err := desc.Image()
		if err != nil {
			return res, malformed(ref, err)
		}
		if opts.Platform != nil {
			if err := matchesPlatform(img, want, ref); err != nil {
				return res, err
			}
		}
		if opts.OnImage != nil {
			opts.OnImage(img)
		}
		if stored, err = st.WriteImage(ctx, img, wopts); err != nil {
			return res, fmt.Errorf("pull %s: %w", reference.Familiar(ref), err)
		}
	default:
		return res, fmt.Errorf("%s: unsupported manifest media type %q", reference.Familiar(ref), desc.MediaType)
	}
	stored.Annotations = map[string]string{
		store.AnnotationSource:       reference.Repository(ref.Context()),
		store.AnnotationSourceDigest: desc.Digest.String(),
	}
	if err := st.SetName(res.Name, stored); err != nil {
		return res, err
	}
	res.Stored = stored
	return res, nil
}

// upToDate reports whether the stored entry came from the manifest digest
// the registry now serves, for the same platform choice: a stored index
// must hold the platform asked for, a single-platform image must be for it
// when --platform named one.
func upToDate(st *store.Store, e store.Entry, served v1.Hash, want v1.Platform, opts PullOptions) bool {
	switch {
	case e.Descriptor.Annotations[store.AnnotationSourceDigest] != served.String():
		return false
	case e.IsIndex():
		if opts.AllPlatforms {
			return true
		}
		idx, err := st.Index(e.Descriptor.Digest)
		if err != nil {
			return false
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return false
		}
		_, err = platform.Pick(im.Manifests, want)
		return err == nil
	case opts.AllPlatforms:
		return false
	case e.Descriptor.Digest == served && opts.Platform == nil:
		return true // a single-platform image is what it is
	}
	return e.Descriptor.Platform != nil && platform.Rank(want, *e.Descriptor.Platform) > 0
}

// matchesPlatform refuses a single-platform image for another platform
// than --platform asked for, with Docker's words. A config naming no
// platform is taken as it is.
func matchesPlatform(img v1.Image, want v1.Platform, ref name.Reference) error {
	cf, err := img.ConfigFile()
	if err != nil {
		return malformed(ref, err)
	}
	have := platform.OfConfig(cf)
	if have.OS == "" || platform.Rank(want, have) > 0 {
		return nil
	}
	return fmt.Errorf("image with reference %s was found but does not match the specified platform: wanted %s, actual: %s",
		reference.Familiar(ref), platform.String(want), platform.String(have))
}

// pullPlatform stores the image for want out of the index desc.
func pullPlatform(ctx context.Context, st *store.Store, desc *remote.Descriptor, want v1.Platform, ref name.Reference, wopts store.WriteOptions, onImage func(v1.Image)) (v1.Descriptor, error) {
	idx, err := desc.ImageIndex()
	if err != nil {
		return v1.Descriptor{}, malformed(ref, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return v1.Descriptor{}, malformed(ref, err)
	}
	i, err := platform.Pick(im.Manifests, want)
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("%s: %w", reference.Familiar(ref), err)
	}
	child := im.Manifests[i]
	var img v1.Image
	if st.HasBlob(child.Digest) {
		img, err = st.Image(child.Digest)
	} else {
		img, err = idx.Image(child.Digest)
	}
	if err != nil {
		return v1.Descriptor{}, malformed(ref, err)
	}
	if onImage != nil {
		onImage(img)
	}
	stored, err := st.WriteImage(ctx, img, wopts)
	if err != nil {
		return stored, fmt.Errorf("pull %s (%s): %w", reference.Familiar(ref), platform.String(want), err)
	}
	return stored, nil
}

func malformed(ref name.Reference, err error) error {
	return fmt.Errorf("%s: the registry sent a malformed manifest: %s", reference.Familiar(ref), err)
}

// checkManifest parses the manifest the registry sent, and holds it to the
// store's limits, before anything is fetched or stored on its word.
func checkManifest(desc *remote.Descriptor) error {
	switch {
	case desc.MediaType.IsIndex():
		im, err := v1.ParseIndexManifest(bytes.NewReader(desc.Manifest))
		if err != nil {
			return err
		}
		return store.CheckIndex(im)
	case desc.MediaType.IsImage() && !desc.MediaType.IsSchema1():
		m, err := v1.ParseManifest(bytes.NewReader(desc.Manifest))
		if err != nil {
			return err
		}
		return store.CheckManifest(m)
	}
	return nil
}
