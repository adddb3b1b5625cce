package archive

import (
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/gantry-build/gantry/pkg/platform"
)

// choosePlatform picks the image of idx that Docker on want would run.
func choosePlatform(idx v1.ImageIndex, want v1.Platform) (v1.Descriptor, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return v1.Descriptor{}, err
	}
	best, bestRank := -1, 0
	var have []string
	for i, d := range im.Manifests {
		if (d.MediaType != "" && !d.MediaType.IsImage()) || d.Platform == nil {
			continue
		}
		if d.Platform.OS == "unknown" {
			continue // attestations and other non-images
		}
		have = append(have, platform.String(*d.Platform))
		if r := platform.Rank(want, *d.Platform); r > bestRank {
			best, bestRank = i, r
		}
	}
	if best < 0 {
		return v1.Descriptor{}, fmt.Errorf("no image for platform %s in the index (it has %s)", platform.String(want), strings.Join(have, ", "))
	}
	return im.Manifests[best], nil
}
