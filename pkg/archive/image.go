package archive

import (
	"encoding/json"
	"fmt"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/gantry-build/gantry/internal/mediatype"
)

// archiveImage is an image whose config and layers live in the archive. Its
// manifest is either the archive's own (OCI) or made up on first use from the
// layer files as they are stored (docker formats, which have no manifest).
type archiveImage struct {
	mediaType types.MediaType
	rawConfig []byte
	layers    []*blobLayer

	once     sync.Once
	raw      []byte
	rawErr   error
	makeRawM func() ([]byte, error)
}

var _ v1.Image = (*archiveImage)(nil)

func (i *archiveImage) RawManifest() ([]byte, error) {
	i.once.Do(func() {
		if i.raw == nil {
			i.raw, i.rawErr = i.makeRawM()
		}
	})
	return i.raw, i.rawErr
}

func (i *archiveImage) MediaType() (types.MediaType, error) { return i.mediaType, nil }
func (i *archiveImage) RawConfigFile() ([]byte, error)      { return i.rawConfig, nil }
func (i *archiveImage) ConfigName() (v1.Hash, error)        { return hashBytes(i.rawConfig), nil }
func (i *archiveImage) ConfigFile() (*v1.ConfigFile, error) { return partial.ConfigFile(i) }
func (i *archiveImage) Manifest() (*v1.Manifest, error)     { return partial.Manifest(i) }
func (i *archiveImage) Digest() (v1.Hash, error)            { return partial.Digest(i) }
func (i *archiveImage) Size() (int64, error)                { return partial.Size(i) }

func (i *archiveImage) Layers() ([]v1.Layer, error) {
	out := make([]v1.Layer, len(i.layers))
	for n, l := range i.layers {
		out[n] = l
	}
	return out, nil
}

func (i *archiveImage) LayerByDigest(h v1.Hash) (v1.Layer, error) {
	if h == hashBytes(i.rawConfig) {
		return partial.ConfigLayer(i)
	}
	for _, l := range i.layers {
		d, err := l.Digest()
		if err != nil {
			return nil, err
		}
		if d == h {
			return l, nil
		}
	}
	return nil, fmt.Errorf("layer %s not found in image", h)
}

func (i *archiveImage) LayerByDiffID(h v1.Hash) (v1.Layer, error) {
	for _, l := range i.layers {
		if l.diffID == h {
			return l, nil
		}
	}
	return nil, fmt.Errorf("layer with diff_id %s not found in image", h)
}

// describeLayers sets the media type of an image made up from layer files:
// Docker's v2 schema 2, as docker load has it, but OCI's when a layer is
// zstd (Docker 25+ saves blobs as they are stored), which has no Docker
// media type; Docker 20.10 refuses a Docker manifest with one.
func (i *archiveImage) describeLayers() {
	i.mediaType = types.DockerManifestSchema2
	for _, l := range i.layers {
		if l.mediaType == types.OCILayerZStd {
			i.mediaType = types.OCIManifestSchema1
		}
	}
	i.makeRawM = i.schema2Manifest
}

// schema2Manifest describes stored layer files as a schema 2 manifest (of
// describeLayers' media type): an uncompressed file keeps the uncompressed
// media type (its digest is its diff ID), a compressed one is described as
// it is.
func (i *archiveImage) schema2Manifest() ([]byte, error) {
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     i.mediaType,
		Config: v1.Descriptor{
			MediaType: types.DockerConfigJSON,
			Size:      int64(len(i.rawConfig)),
			Digest:    hashBytes(i.rawConfig),
		},
		Layers: make([]v1.Descriptor, len(i.layers)),
	}
	for n, l := range i.layers {
		d, err := l.Digest()
		if err != nil {
			return nil, err
		}
		m.Layers[n] = v1.Descriptor{MediaType: l.mediaType, Size: l.size, Digest: d}
	}
	if m.MediaType == types.OCIManifestSchema1 {
		// The layers keep their own media types (an archive's images
		// may share one): only this manifest says OCI.
		m = *mediatype.OCIManifest(&m)
	}
	return json.Marshal(m)
}

// diffIDsOf reads rootfs.diff_ids, the one part of a config this package
// relies on, with errors a user can act on.
func diffIDsOf(raw []byte) ([]v1.Hash, error) {
	var c struct {
		RootFS *struct {
			DiffIDs []string `json:"diff_ids"`
		} `json:"rootfs"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		if json.Valid(raw) {
			return nil, fmt.Errorf("is not an image config: %w", err)
		}
		return nil, fmt.Errorf("is not JSON: %w", err)
	}
	if c.RootFS == nil {
		return nil, fmt.Errorf("has no rootfs")
	}
	out := make([]v1.Hash, len(c.RootFS.DiffIDs))
	for n, s := range c.RootFS.DiffIDs {
		h, err := v1.NewHash(s)
		if err != nil {
			return nil, fmt.Errorf("rootfs.diff_ids[%d] %q is not a digest", n, s)
		}
		out[n] = h
	}
	return out, nil
}
