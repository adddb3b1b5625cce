package dockerfile

import (
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/gantry-build/gantry/pkg/layer"
	"github.com/gantry-build/gantry/pkg/rootfs"
	"github.com/gantry-build/gantry/pkg/userns"
)

// squash makes what stage s added over its FROM image one layer, as docker
// build --squash and kaniko's --single-snapshot do: the layer is the
// changeset from the base's tree to the stage's (whiteouts for what the
// stage deleted), both unpacked in the rootfs cache. The config is img's;
// every instruction stays in the history, and only the last entry of the
// stage that made a layer keeps one, so that entries and layers still pair.
func (b *dfBuild) squash(s *stageState, img v1.Image) (v1.Image, error) {
	baseLayers, err := s.fromImg.Layers()
	if err != nil {
		return nil, err
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, err
	}
	if len(layers)-len(baseLayers) < 2 {
		return img, nil // nothing to merge
	}
	lower, err := b.cache.Get(s.fromImg)
	if err != nil {
		return nil, fmt.Errorf("unpacking the base: %w", err)
	}
	upper, err := b.cache.Get(img)
	if err != nil {
		return nil, fmt.Errorf("unpacking the stage: %w", err)
	}
	built, err := layer.FromWriter(b.ctx, b.st, b.o.Compression, s.oci(), func(w io.Writer) error {
		return rootfs.WriteChanges(w, lower, upper, rootfs.ChangeOptions{Trees: true, RootOwned: userns.Rootless()})
	})
	if err != nil {
		return nil, err
	}
	l, err := layer.Open(b.st, built)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	base, err := s.fromImg.ConfigFile()
	if err != nil {
		return nil, err
	}
	// The stage's history entries follow the base's; the last one of them
	// that made a layer now makes the merged one.
	history := append([]v1.History(nil), cf.History...)
	last := -1
	for i := len(base.History); i < len(history); i++ {
		if !history[i].EmptyLayer {
			last = i
			history[i].EmptyLayer = true
		}
	}
	if last < 0 {
		return nil, fmt.Errorf("the stage's history names none of its %d layers", len(layers)-len(baseLayers))
	}
	history[last].EmptyLayer = false
	out, err := mutate.AppendLayers(s.fromImg, l)
	if err != nil {
		return nil, err
	}
	outCf, err := out.ConfigFile()
	if err != nil {
		return nil, err
	}
	merged := cf.DeepCopy()
	merged.RootFS = outCf.RootFS
	merged.History = history
	return mutate.ConfigFile(out, merged)
}
