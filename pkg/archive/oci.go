package archive

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/match"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Annotations naming an image in an OCI layout. Docker 25+ and containerd
// write both: the full name in the containerd one, the tag alone in the OCI one.
const (
	annotationRefName   = "org.opencontainers.image.ref.name"
	annotationImageName = "io.containerd.image.name"
)

// readBlob reads a small blob whole and checks it against its descriptor.
func (a *Archive) readBlob(d v1.Descriptor, who string) ([]byte, error) {
	if d.Digest.Algorithm == "" {
		return nil, a.errorf("%s has a descriptor without a digest", who)
	}
	p := blobPath(d.Digest)
	b, err := a.readMetadata(p)
	if err != nil {
		if isNotExist(err) {
			return nil, a.errorf("%s names blob %s, which is not in the archive%s", who, d.Digest, a.truncatedHint())
		}
		return nil, err
	}
	h, err := v1.Hasher(d.Digest.Algorithm)
	if err != nil {
		return nil, a.errorf("%s: %v", who, err)
	}
	h.Write(b)
	if got := hex.EncodeToString(h.Sum(nil)); got != d.Digest.Hex {
		return nil, a.errorf("%q: digest mismatch: expected %s, got %s:%s", p, d.Digest, d.Digest.Algorithm, got)
	}
	return b, nil
}

// mediaTypeOf takes the descriptor's media type, or the blob's own when an
// old writer left the descriptor's out.
func mediaTypeOf(d v1.Descriptor, raw []byte) types.MediaType {
	if d.MediaType != "" {
		return d.MediaType
	}
	var probe struct {
		MediaType types.MediaType `json:"mediaType"`
		Manifests json.RawMessage `json:"manifests"`
	}
	_ = json.Unmarshal(raw, &probe)
	switch {
	case probe.MediaType != "":
		return probe.MediaType
	case probe.Manifests != nil:
		return types.OCIImageIndex
	}
	return types.OCIManifestSchema1
}

// ociImage makes the image a descriptor of an OCI layout points at, keeping
// the manifest bytes (and so the digest) the archive holds.
func (a *Archive) ociImage(d v1.Descriptor, parent string) (*archiveImage, error) {
	who := "image " + d.Digest.String()
	raw, err := a.readBlob(d, parent)
	if err != nil {
		return nil, err
	}
	var m v1.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, a.errorf("%s: manifest is not JSON: %v", who, err)
	}
	rawConfig, err := a.readBlob(m.Config, who)
	if err != nil {
		return nil, err
	}
	diffIDs, err := diffIDsOf(rawConfig)
	if err != nil {
		return nil, a.errorf("%s: config %s %v", who, m.Config.Digest, err)
	}
	if len(diffIDs) != len(m.Layers) {
		return nil, a.errorf("%s lists %d layers, but its config has %d diff_ids", who, len(m.Layers), len(diffIDs))
	}
	img := &archiveImage{mediaType: mediaTypeOf(d, raw), rawConfig: rawConfig, raw: raw}
	for i, ld := range m.Layers {
		if ld.Digest.Algorithm == "" {
			return nil, a.errorf("%s: layer %d has no digest", who, i)
		}
		digest := ld.Digest
		img.layers = append(img.layers, &blobLayer{
			a: a, path: blobPath(digest), size: ld.Size, mediaType: ld.MediaType, diffID: diffIDs[i],
			digest: func() (v1.Hash, error) { return digest, nil },
		})
	}
	return img, nil
}

// ociIndex is an image index stored in the archive.
type ociIndex struct {
	a         *Archive
	desc      v1.Descriptor
	mediaType types.MediaType
	raw       []byte
}

var _ v1.ImageIndex = (*ociIndex)(nil)

func (a *Archive) ociIndex(d v1.Descriptor, parent string) (*ociIndex, error) {
	raw, err := a.readBlob(d, parent)
	if err != nil {
		return nil, err
	}
	if _, err := v1.ParseIndexManifest(bytes.NewReader(raw)); err != nil {
		return nil, a.errorf("index %s is not JSON: %v", d.Digest, err)
	}
	return &ociIndex{a: a, desc: d, mediaType: mediaTypeOf(d, raw), raw: raw}, nil
}

func (x *ociIndex) MediaType() (types.MediaType, error) { return x.mediaType, nil }
func (x *ociIndex) Digest() (v1.Hash, error)            { return x.desc.Digest, nil }
func (x *ociIndex) Size() (int64, error)                { return int64(len(x.raw)), nil }
func (x *ociIndex) RawManifest() ([]byte, error)        { return x.raw, nil }

func (x *ociIndex) IndexManifest() (*v1.IndexManifest, error) {
	return v1.ParseIndexManifest(bytes.NewReader(x.raw))
}

func (x *ociIndex) child(h v1.Hash) (v1.Descriptor, error) {
	im, err := x.IndexManifest()
	if err != nil {
		return v1.Descriptor{}, err
	}
	for _, d := range im.Manifests {
		if d.Digest == h {
			return d, nil
		}
	}
	return v1.Descriptor{}, fmt.Errorf("manifest %s not found in index %s", h, x.desc.Digest)
}

func (x *ociIndex) Image(h v1.Hash) (v1.Image, error) {
	d, err := x.child(h)
	if err != nil {
		return nil, err
	}
	return x.a.ociImage(d, "index "+x.desc.Digest.String())
}

func (x *ociIndex) ImageIndex(h v1.Hash) (v1.ImageIndex, error) {
	d, err := x.child(h)
	if err != nil {
		return nil, err
	}
	return x.a.ociIndex(d, "index "+x.desc.Digest.String())
}

// loadIndex returns the index (trimmed to the platforms whose manifests the
// archive holds: Docker with the containerd store saves only the platforms
// it has) and the config digests of its images.
func (a *Archive) loadIndex(d v1.Descriptor) (v1.ImageIndex, map[v1.Hash]bool, error) {
	idx, err := a.ociIndex(d, "index.json")
	if err != nil {
		return nil, nil, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, nil, err
	}
	configs := map[v1.Hash]bool{}
	var missing []v1.Hash
	for _, c := range im.Manifests {
		f, err := a.src.open(blobPath(c.Digest))
		if err != nil {
			missing = append(missing, c.Digest)
			continue
		}
		f.Close()
		if c.MediaType != "" && !c.MediaType.IsImage() {
			continue
		}
		raw, err := a.readBlob(c, "index "+d.Digest.String())
		if err != nil {
			return nil, nil, err
		}
		var m v1.Manifest
		if json.Unmarshal(raw, &m) == nil && m.Config.Digest.Algorithm != "" {
			configs[m.Config.Digest] = true
		}
	}
	switch {
	case len(missing) == len(im.Manifests) && len(missing) > 0:
		return nil, nil, a.errorf("index %s: none of its %d manifests is in the archive%s", d.Digest, len(missing), a.truncatedHint())
	case len(missing) > 0:
		return mutate.RemoveManifests(idx, match.Digests(missing...)), configs, nil
	}
	return idx, configs, nil
}

// refNames reads the names an OCI layout gives a descriptor. A bare tag
// ("1.0") names no repository, and none is invented for it.
func refNames(d v1.Descriptor) []name.Tag {
	for _, s := range []string{d.Annotations[annotationImageName], d.Annotations[annotationRefName]} {
		if !strings.ContainsAny(s, ":/") {
			continue
		}
		if t, err := name.NewTag(s); err == nil {
			return []name.Tag{t}
		}
	}
	return nil
}
