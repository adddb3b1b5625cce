package flagbuild

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/gantry-build/gantry/internal/compress"
	"github.com/gantry-build/gantry/pkg/config"
	"github.com/gantry-build/gantry/pkg/layer"
	"github.com/gantry-build/gantry/pkg/platform"
	"github.com/gantry-build/gantry/pkg/store"
)

// ImportOptions describe gantry import.
type ImportOptions struct {
	Source      string    // a rootfs tar (plain or gzip), a directory, or "-" for Stdin
	Stdin       io.Reader //
	Changes     []string  // --change instructions
	Platform    *v1.Platform
	Created     time.Time
	Compression string
}

// Import makes a one-layer image from a root filesystem, like docker
// import: a tar is the layer as it is; a directory is tarred
// deterministically (owners 0:0, as --add does).
func Import(ctx context.Context, st *store.Store, o ImportOptions) (v1.Image, error) {
	if o.Compression == "" {
		o.Compression = layer.Gzip
	}
	var built layer.Built
	fi, statErr := os.Stat(o.Source)
	switch {
	case o.Source == "-":
		var err error
		if built, err = importTar(ctx, st, o.Stdin, o.Compression); err != nil {
			return nil, fmt.Errorf("import from standard input: %w", err)
		}
	case statErr != nil:
		return nil, fmt.Errorf("import: %w", statErr)
	case fi.IsDir():
		// A root filesystem: owners, device nodes and xattrs (file
		// capabilities) are part of it.
		lo := layer.Options{Time: o.Created, KeepOwners: true, Devices: true, Xattrs: true}
		entries, err := layer.Collect([]layer.Add{{Src: o.Source, Dest: "/"}}, lo)
		if err != nil {
			return nil, err
		}
		if built, err = layer.Build(ctx, st, entries, lo, o.Compression, false); err != nil {
			return nil, err
		}
	default:
		f, err := os.Open(o.Source)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if built, err = importTar(ctx, st, f, o.Compression); err != nil {
			return nil, fmt.Errorf("import %s: %w", o.Source, err)
		}
	}
	l, err := layer.Open(st, built)
	if err != nil {
		return nil, err
	}
	p := platform.Host()
	if o.Platform != nil {
		p = *o.Platform
	}
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.DockerManifestSchema2), types.DockerConfigJSON)
	img, err = layer.Append(img, mutate.Addendum{Layer: l, MediaType: built.Descriptor.MediaType,
		History: v1.History{Created: v1.Time{Time: o.Created}, Comment: "Imported from " + o.Source}})
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
	cf.Created = v1.Time{Time: o.Created}
	if err := config.ApplyChanges(cf, o.Changes, o.Created); err != nil {
		return nil, err
	}
	return mutate.ConfigFile(img, cf)
}

// importTar stores a tar, decompressing a compressed one first: the layer must be
// the tar itself for its diff ID to be right.
func importTar(ctx context.Context, st *store.Store, r io.Reader, compression string) (layer.Built, error) {
	tr, _, err := compress.NewReader(r)
	if err != nil {
		return layer.Built{}, err
	}
	defer tr.Close()
	return layer.FromTar(ctx, st, tr, compression, false)
}
