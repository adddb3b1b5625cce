// Package publish sends a built image (or index) everywhere the user asked:
// the store (-t), registries (--push), archives, OCI layouts, a daemon, a
// root filesystem. It knows nothing of how the image was made.
package publish

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/gantry-build/gantry/pkg/archive"
	"github.com/gantry-build/gantry/pkg/images"
	"github.com/gantry-build/gantry/pkg/progress"
	"github.com/gantry-build/gantry/pkg/reference"
	"github.com/gantry-build/gantry/pkg/registry"
	"github.com/gantry-build/gantry/pkg/store"
	"github.com/gantry-build/gantry/pkg/transfer"
)

// Delivered reports one thing Deliver did, for printing.
type Delivered struct {
	What   string // "stored", "pushed", "written", "loaded"
	Where  string
	Digest v1.Hash
}

func item(a images.Artifact, tags []name.Tag) archive.Item {
	return archive.Item{Names: tags, Image: a.Image, Index: a.Index}
}

// Deliver sends img everywhere t names: the store first, then registries,
// then files and engines. What was done before a failure is reported too.
func Deliver(ctx context.Context, st *store.Store, rc *registry.Client, img images.Artifact, t Targets, rep progress.Reporter) ([]Delivered, error) {
	if rep == nil {
		rep = progress.Nop()
	}
	var out []Delivered
	digest, err := img.Digest()
	if err != nil {
		return nil, err
	}
	tags, err := parseTags(rc, t.stored())
	if err != nil {
		return nil, err
	}
	if len(tags) > 0 {
		stored, err := storeImage(ctx, st, rc, img, tags, rep)
		for _, name := range stored {
			out = append(out, Delivered{What: "stored", Where: name, Digest: digest})
		}
		if err != nil {
			return out, err
		}
	}
	pushTo, err := parseTags(rc, t.pushed())
	if err != nil {
		return out, err
	}
	var top remote.Taggable = img.Image
	if img.Index != nil {
		top = img.Index
	}
	for _, tag := range pushTo {
		if _, err := transfer.PushImage(ctx, rc, top, tag.String(), transfer.PushOptions{Store: st, Progress: rep}); err != nil {
			return out, err
		}
		out = append(out, Delivered{What: "pushed", Where: reference.Canonical(tag), Digest: digest})
	}
	named, err := parseTags(rc, t.Names)
	if err != nil {
		return out, err
	}
	for _, o := range t.Outputs {
		var err error
		what := "written"
		switch o.Type {
		case "docker":
			err = writeDockerArchive(o.Dest, img, named)
		case "oci":
			err = writeOCI(o.Dest, img, named)
		case "daemon":
			what = "loaded"
			o.Dest, err = loadIntoDaemon(ctx, img, named)
		case "local":
			err = writeLocal(o.Dest, img)
		case "tar":
			err = writeRootfsTar(o.Dest, img)
		default:
			continue // image and registry outputs were delivered above
		}
		if err != nil {
			return out, fmt.Errorf("-o type=%s: %w", o.Type, err)
		}
		out = append(out, Delivered{What: what, Where: o.Dest, Digest: digest})
	}
	return out, nil
}

func parseTags(rc *registry.Client, names []string) ([]name.Tag, error) {
	var tags []name.Tag
	for _, n := range names {
		ref, err := rc.ParseReference(n)
		if err != nil {
			return nil, err
		}
		if tag, ok := ref.(name.Tag); ok {
			tags = append(tags, tag)
		}
	}
	return tags, nil
}

// storeImage writes img into the store and names it. Built layers are in
// the store already; only a base image's layers that the build never
// needed may still arrive from a registry.
func storeImage(ctx context.Context, st *store.Store, rc *registry.Client, img images.Artifact, tags []name.Tag, rep progress.Reporter) ([]string, error) {
	done, err := st.Writing()
	if err != nil {
		return nil, err
	}
	defer done()
	// A base read from a registry stays there: a push mounts or streams
	// its layers, and they come into the store only when something needs
	// their bytes.
	wopts := store.WriteOptions{Jobs: rc.Jobs(), Progress: progress.WithoutSkips(rep), Lazy: true}
	var desc v1.Descriptor
	if img.Index != nil {
		desc, err = st.WriteIndex(ctx, img.Index, wopts)
	} else {
		desc, err = st.WriteImage(ctx, img.Image, wopts)
	}
	if err != nil {
		return nil, err
	}
	var stored []string
	for _, tag := range tags {
		if err := st.SetName(reference.Canonical(tag), desc); err != nil {
			return stored, err
		}
		stored = append(stored, reference.Canonical(tag))
	}
	return stored, nil
}
