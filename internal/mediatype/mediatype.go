// Package mediatype maps Docker's image media types to OCI's: for archives
// saved with OCI types, and for images that take a zstd layer, which has no
// Docker media type (Docker 20.10 refuses a Docker manifest with one).
package mediatype

import (
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// OCI maps a Docker media type to its OCI equivalent; any other is
// returned as it is.
func OCI(mt types.MediaType) types.MediaType {
	switch mt {
	case types.DockerManifestSchema2:
		return types.OCIManifestSchema1
	case types.DockerManifestList:
		return types.OCIImageIndex
	case types.DockerConfigJSON:
		return types.OCIConfigJSON
	case types.DockerLayer:
		return types.OCILayer
	case types.DockerUncompressedLayer:
		return types.OCIUncompressedLayer
	case types.DockerForeignLayer:
		return types.OCIRestrictedLayer
	}
	return mt
}

// OCIManifest returns a copy of m with OCI media types: the manifest's,
// the config's and the layers'. The blobs it names are the same.
func OCIManifest(m *v1.Manifest) *v1.Manifest {
	out := m.DeepCopy()
	out.MediaType = OCI(out.MediaType)
	out.Config.MediaType = OCI(out.Config.MediaType)
	for i := range out.Layers {
		out.Layers[i].MediaType = OCI(out.Layers[i].MediaType)
	}
	return out
}
