package images

import (
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Artifact is what a build makes and an output takes: one image, or an
// index of one image per platform (exactly one of the two is set), as
// go-containerregistry's remote.Taggable models it.
type Artifact struct {
	Image v1.Image
	Index v1.ImageIndex
}

// ID is what docker build --iidfile writes: the image ID (its config's
// digest), or for several platforms the index digest, as buildx writes it.
func (a Artifact) ID() (v1.Hash, error) {
	if a.Index != nil {
		return a.Index.Digest()
	}
	return a.Image.ConfigName()
}

// Digest is the manifest (or index) digest.
func (a Artifact) Digest() (v1.Hash, error) {
	if a.Index != nil {
		return a.Index.Digest()
	}
	return a.Image.Digest()
}

// Combine makes an index of one image per platform; a Docker manifest list
// if any image is a Docker manifest, else an OCI index.
func Combine(built []v1.Image) (Artifact, error) {
	var adds []mutate.IndexAddendum
	indexType := types.OCIImageIndex
	for _, img := range built {
		mt, err := img.MediaType()
		if err != nil {
			return Artifact{}, err
		}
		if mt == types.DockerManifestSchema2 {
			indexType = types.DockerManifestList
		}
		cf, err := img.ConfigFile()
		if err != nil {
			return Artifact{}, err
		}
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{MediaType: mt, Platform: cf.Platform()}})
	}
	return Artifact{Index: mutate.IndexMediaType(mutate.AppendManifests(empty.Index, adds...), indexType)}, nil
}
