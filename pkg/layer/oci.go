package layer

import (
	"encoding/json"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/gantry-build/gantry/internal/mediatype"
)

// Append is mutate.Append for the layers gantry builds. A zstd layer has no
// Docker media type, and Docker 20.10 refuses a Docker schema 2 manifest
// with one: on such a base the image becomes OCI first (OCI), as BuildKit
// converts it.
func Append(base v1.Image, adds ...mutate.Addendum) (v1.Image, error) {
	for _, a := range adds {
		mt := a.MediaType
		if mt == "" && a.Layer != nil {
			mt, _ = a.Layer.MediaType()
		}
		if mt == types.OCILayerZStd {
			oci, err := OCI(base)
			if err != nil {
				return nil, err
			}
			base = oci
			break
		}
	}
	return mutate.Append(base, adds...)
}

// OCI returns img with OCI media types in its manifest (the manifest's, the
// config's, the layers'); the config and layers are the same blobs. An
// image that has them already is returned as it is.
func OCI(img v1.Image) (v1.Image, error) {
	mt, err := img.MediaType()
	if err != nil {
		return nil, err
	}
	if mediatype.OCI(mt) == mt {
		return img, nil
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(mediatype.OCIManifest(m))
	if err != nil {
		return nil, err
	}
	return &ociImage{Image: img, raw: raw}, nil
}

// ociImage is an image whose manifest is rewritten with OCI media types.
// Everything else is the image's own: its layers (which may be the store's,
// or carry where a push can mount them from) are not wrapped, and their
// MediaType still says Docker's; the manifest is what registries, archives
// and the store read.
type ociImage struct {
	v1.Image
	raw []byte
}

func (i *ociImage) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }
func (i *ociImage) RawManifest() ([]byte, error)        { return i.raw, nil }
func (i *ociImage) Manifest() (*v1.Manifest, error)     { return partial.Manifest(i) }
func (i *ociImage) Digest() (v1.Hash, error)            { return partial.Digest(i) }
func (i *ociImage) Size() (int64, error)                { return partial.Size(i) }
