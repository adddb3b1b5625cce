package flagbuild

import (
	"context"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/gantry-build/gantry/pkg/config"
	"github.com/gantry-build/gantry/pkg/images"
	"github.com/gantry-build/gantry/pkg/registry"
	"github.com/gantry-build/gantry/pkg/store"
)

// MutateOptions are the config-only edits of gantry mutate.
type MutateOptions struct {
	Image    string
	Edits    config.Edits
	Changes  []string // Dockerfile instructions, applied after Edits
	Platform *v1.Platform
	Created  time.Time // time of the history entries
}

// Mutate changes only the config of an image, like docker commit -c: the
// layers are the base's, untouched and not downloaded.
func Mutate(ctx context.Context, st *store.Store, rc *registry.Client, o MutateOptions) (v1.Image, error) {
	base, err := images.Resolve(ctx, st, rc, o.Image, o.Platform)
	if err != nil {
		return nil, err
	}
	cf, err := base.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	if err := o.Edits.Apply(cf, o.Created); err != nil {
		return nil, err
	}
	if err := config.ApplyChanges(cf, o.Changes, o.Created); err != nil {
		return nil, err
	}
	return mutate.ConfigFile(base, cf)
}
