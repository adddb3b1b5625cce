// Package flagbuild makes images without a Dockerfile: a base plus local
// folders as one layer plus config edits (gantry build --from), config-only
// edits (gantry mutate) and root filesystems (gantry import).
package flagbuild

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/gantry-build/gantry/pkg/config"
	"github.com/gantry-build/gantry/pkg/images"
	"github.com/gantry-build/gantry/pkg/layer"
	"github.com/gantry-build/gantry/pkg/platform"
	"github.com/gantry-build/gantry/pkg/registry"
	"github.com/gantry-build/gantry/pkg/store"
)

// Options describe a build without a Dockerfile.
type Options struct {
	From        string // image reference, or "scratch"
	Adds        []layer.Add
	Layer       layer.Options // owner, mode, excludes; Time and Workdir are set here
	Edits       config.Edits
	Platforms   []v1.Platform // none: the host's; several make an index
	Compression string        // gzip (default), zstd, none
	Created     time.Time     // the image's and its files' time
}

// Result is a built image (or index) and what the user sees of it.
type Result struct {
	images.Artifact
	Cached bool // the new layer came from the content cache
}

// FromFlags builds one image, or with several platforms an index of one image
// per platform. The new layer is tarred and compressed once: the other
// platforms find it in the content cache.
func FromFlags(ctx context.Context, st *store.Store, rc *registry.Client, o Options) (*Result, error) {
	if len(o.Platforms) <= 1 {
		var want *v1.Platform
		if len(o.Platforms) == 1 {
			want = &o.Platforms[0]
		}
		img, cached, err := buildOne(ctx, st, rc, o, want)
		if err != nil {
			return nil, err
		}
		return &Result{Artifact: images.Artifact{Image: img}, Cached: cached}, nil
	}
	var built []v1.Image
	cached := false
	for i := range o.Platforms {
		p := o.Platforms[i]
		img, c, err := buildOne(ctx, st, rc, o, &p)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", platform.String(p), err)
		}
		cached = cached || c
		built = append(built, img)
	}
	idx, err := images.Combine(built)
	if err != nil {
		return nil, err
	}
	return &Result{Artifact: idx, Cached: cached}, nil
}

// buildOne builds the image for want: the base's layers as they are (read
// lazily, from the store when it has the base, else from the registry, so
// that a push to the base's registry never downloads them), one new layer
// holding every --add, then the config edits.
func buildOne(ctx context.Context, st *store.Store, rc *registry.Client, o Options, want *v1.Platform) (v1.Image, bool, error) {
	adds := platformAdds(o.Adds, want)
	lo := o.Layer
	lo.Time = o.Created
	// The sources are listed while the base is resolved (its registry's
	// round trips), unless a relative destination needs the base's WORKDIR
	// first.
	var listed *listing
	early := len(adds) > 0 && allAbsolute(adds)
	if early {
		listed = listInBackground(adds, lo)
	}
	base, cf, err := resolveBase(ctx, st, rc, o, want)
	if err != nil {
		listed.wait()
		return nil, false, err
	}
	img, cached := base, false
	if len(adds) > 0 {
		lo.Workdir = cf.Config.WorkingDir // the base's, or --workdir's
		if !early {
			listed = listInBackground(adds, lo)
		}
		entries, err := listed.wait()
		if err != nil {
			return nil, false, err
		}
		mt, err := base.MediaType()
		if err != nil {
			return nil, false, err
		}
		compression := o.Compression
		if compression == "" {
			compression = layer.Gzip
		}
		built, err := layer.Build(ctx, st, entries, lo, compression, mt == types.OCIManifestSchema1)
		if err != nil {
			return nil, false, err
		}
		l, err := layer.Open(st, built)
		if err != nil {
			return nil, false, err
		}
		cached = built.Cached
		img, err = layer.Append(base, mutate.Addendum{
			Layer:     l,
			MediaType: built.Descriptor.MediaType,
			History:   v1.History{Created: v1.Time{Time: o.Created}, CreatedBy: addHistory(o.Adds)},
		})
		if err != nil {
			return nil, false, err
		}
	}
	// The config edits go on top of the config the layer left.
	withLayer, err := img.ConfigFile()
	if err != nil {
		return nil, false, err
	}
	cf = withLayer.DeepCopy()
	if err := o.Edits.Apply(cf, o.Created); err != nil {
		return nil, false, err
	}
	cf.Created = v1.Time{Time: o.Created}
	img, err = mutate.ConfigFile(img, cf)
	return img, cached, err
}

// resolveBase is the base image for want and the config the edits make of
// its config (checked before the layer is built: bad flags cost no
// compression).
func resolveBase(ctx context.Context, st *store.Store, rc *registry.Client, o Options, want *v1.Platform) (v1.Image, *v1.ConfigFile, error) {
	base, err := images.Resolve(ctx, st, rc, o.From, want)
	if err != nil {
		return nil, nil, err
	}
	baseConfig, err := base.ConfigFile()
	if err != nil {
		return nil, nil, fmt.Errorf("base %s: config: %w", o.From, err)
	}
	cf := baseConfig.DeepCopy()
	if err := o.Edits.Apply(cf, o.Created); err != nil {
		return nil, nil, err
	}
	return base, cf, nil
}

// listing is the entries of --add sources being listed.
type listing struct {
	done    chan struct{}
	entries []layer.Entry
	err     error
}

// listInBackground lists adds (layer.Collect). The file-hash cache is not
// read beside it: an unchanged tree is found by its stat key, and the cache
// is needed only when files changed (decoding it took the listing's CPU).
func listInBackground(adds []layer.Add, lo layer.Options) *listing {
	l := &listing{done: make(chan struct{})}
	go func() {
		defer close(l.done)
		l.entries, l.err = layer.Collect(adds, lo)
	}()
	return l
}

// wait is the listing's result; a listing never started (nil) has none.
func (l *listing) wait() ([]layer.Entry, error) {
	if l == nil {
		return nil, nil
	}
	<-l.done
	return l.entries, l.err
}

func allAbsolute(adds []layer.Add) bool {
	for _, a := range adds {
		if !path.IsAbs(a.Dest) {
			return false
		}
	}
	return true
}

// addHistory names each source by its base name only: a host path in the
// config would make the digest depend on where the folder sits.
func addHistory(adds []layer.Add) string {
	parts := make([]string, len(adds))
	for i, a := range adds {
		parts[i] = filepath.Base(filepath.Clean(a.Src)) + " " + a.Dest
	}
	return "COPY " + strings.Join(parts, " ; ") + " # gantry build --add"
}

// platformAdds expands $TARGETOS, $TARGETARCH, $TARGETVARIANT and
// $TARGETPLATFORM in --add sources for the platform being built (nil: the
// host's), as BuildKit's predefined args are named, so that one build of
// several platforms adds each its own binary:
// --add 'bin/${TARGETARCH}/app:/app' --platform linux/amd64,linux/arm64.
func platformAdds(adds []layer.Add, want *v1.Platform) []layer.Add {
	p := platform.Host()
	if want != nil {
		p = *want
	}
	vars := map[string]string{"TARGETOS": p.OS, "TARGETARCH": p.Architecture, "TARGETVARIANT": p.Variant, "TARGETPLATFORM": platform.String(p)}
	out := make([]layer.Add, len(adds))
	for i, a := range adds {
		a.Src = os.Expand(a.Src, func(k string) string {
			if v, ok := vars[k]; ok {
				return v
			}
			return "$" + k // not ours: the file name has a dollar sign
		})
		out[i] = a
	}
	return out
}
