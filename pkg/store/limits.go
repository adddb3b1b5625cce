package store

import (
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Limits on what a registry or an archive can make gantry hold or fetch.
// Real images are far below them; a hostile one must not exhaust memory.
const (
	// MaxConfigSize bounds an image config read into memory. containerd
	// reads the JSON of an image archive through a 20 MiB limit
	// (core/images/archive/importer.go, jsonLimit); configs of real images
	// are kilobytes.
	MaxConfigSize = 20 << 20
	// MaxLayers is Docker's limit on the layers of an image: moby's
	// layer/layer_store.go refuses chains deeper than maxLayerDepth = 125
	// ("the 127 max in some graphdrivers plus the 2 additional layers used
	// to create a rwlayer"), so no Docker runs an image with more.
	MaxLayers = 125
	// MaxIndexEntries bounds the manifests of one index. Real indexes list
	// a few platforms and their attestations; containerd's 4 MiB manifest
	// limit alone would allow some 20,000.
	MaxIndexEntries = 1000
)

// CheckManifest refuses a manifest whose config or layer count is beyond
// the limits, before anything it names is fetched.
func CheckManifest(m *v1.Manifest) error {
	if m.Config.Size < 0 || m.Config.Size > MaxConfigSize {
		return fmt.Errorf("the manifest gives its config a size of %d bytes; gantry reads configs up to %d", m.Config.Size, MaxConfigSize)
	}
	if len(m.Layers) > MaxLayers {
		return fmt.Errorf("the image has %d layers; Docker runs images of at most %d", len(m.Layers), MaxLayers)
	}
	for i, l := range m.Layers {
		if l.Size < 0 {
			return fmt.Errorf("layer %d has a negative size", i+1)
		}
	}
	return nil
}

// CheckIndex refuses an index listing more manifests than MaxIndexEntries.
func CheckIndex(im *v1.IndexManifest) error {
	if len(im.Manifests) > MaxIndexEntries {
		return fmt.Errorf("the index lists %d manifests; gantry reads indexes of at most %d", len(im.Manifests), MaxIndexEntries)
	}
	return nil
}
