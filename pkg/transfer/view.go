package transfer

import (
	"context"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/gantry-build/gantry/pkg/inspect"
	"github.com/gantry-build/gantry/pkg/registry"
	"github.com/gantry-build/gantry/pkg/store"
)

// View is an image to inspect: its report and where its raw bytes come from.
type View struct {
	Image    v1.Image
	RawIndex []byte // the index it was picked from, if any
	Report   *inspect.Report
}

// InspectStored describes a stored image; for an index, the image for want
// (nil: host).
func InspectStored(st *store.Store, arg string, want *v1.Platform) (*View, error) {
	e, err := Resolve(st, arg)
	if err != nil {
		return nil, err
	}
	img, _, err := ImageOf(st, e, want)
	if err != nil {
		return nil, err
	}
	r, err := inspect.Image(e.Name, img)
	if err != nil {
		return nil, err
	}
	v := &View{Image: img, Report: r}
	if e.IsIndex() {
		if v.RawIndex, err = st.ReadBlob(e.Descriptor.Digest); err != nil {
			return nil, err
		}
		idx, err := st.Index(e.Descriptor.Digest)
		if err != nil {
			return nil, err
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return nil, err
		}
		r.FromIndex(e.Descriptor.Digest, im)
	}
	return v, nil
}

// InspectRemote describes an image straight from its registry.
func InspectRemote(ctx context.Context, rc *registry.Client, refStr string, want *v1.Platform) (*View, error) {
	rm, err := RemoteImage(ctx, rc, refStr, want)
	if err != nil {
		return nil, err
	}
	ref, err := rc.ParseReference(refStr)
	if err != nil {
		return nil, err
	}
	r, err := inspect.Image(refStr, rm.Image)
	if err != nil {
		return nil, registry.Explain(err, ref)
	}
	if rm.Index != nil {
		r.FromIndex(rm.IndexDigest, rm.Index)
	}
	return &View{Image: rm.Image, RawIndex: rm.RawIndex, Report: r}, nil
}
