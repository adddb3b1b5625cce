package archive

import (
	"encoding/json"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/gantry-build/gantry/internal/mediatype"
	"github.com/gantry-build/gantry/pkg/platform"
)

// blobWriter writes each blob of an OCI layout once. With ociTypes it
// rewrites Docker media types in manifests and indexes to their OCI
// equivalents (the blobs themselves stay byte for byte), because some
// layout readers, umoci among them, accept nothing else.
type blobWriter struct {
	tw       *tarWriter
	ociTypes bool
}

func (b *blobWriter) has(h v1.Hash) bool { return b.tw.has(blobPath(h)) }

func (b *blobWriter) bytes(h v1.Hash, data []byte) error {
	if b.has(h) {
		return nil
	}
	return b.tw.bytes(blobPath(h), data)
}

// layer writes the layer's stored bytes, checked against its digest.
// Non-distributable layers stay out, as registries and Docker leave them.
// digestVerified is a blob reader whose content was checked against its
// digest before (a blob of gantry's store): copying it needs no second hash.
type digestVerified interface{ DigestVerified() }

func (b *blobWriter) layer(l v1.Layer) error {
	mt, err := l.MediaType()
	if err != nil {
		return err
	}
	if !mt.IsDistributable() {
		return nil
	}
	h, err := l.Digest()
	if err != nil {
		return err
	}
	if b.has(h) {
		return nil
	}
	size, err := l.Size()
	if err != nil {
		return err
	}
	rc, err := l.Compressed()
	if err != nil {
		return fmt.Errorf("layer %s: %w", h, err)
	}
	defer rc.Close()
	var r io.Reader = rc
	if _, ok := rc.(digestVerified); !ok {
		r = newVerifyReader(rc, nil, h, func(got v1.Hash) error {
			return fmt.Errorf("content is %s (digest mismatch)", got)
		})
	}
	if err := b.tw.stream(blobPath(h), size, r); err != nil {
		return fmt.Errorf("layer %s: %w", h, err)
	}
	return nil
}

// image writes an image's layers, config and manifest, and returns the
// descriptor of the manifest as written (with its platform when the config
// names one).
func (b *blobWriter) image(img v1.Image) (v1.Descriptor, error) {
	layers, err := img.Layers()
	if err != nil {
		return v1.Descriptor{}, err
	}
	for _, l := range layers {
		if err := b.layer(l); err != nil {
			return v1.Descriptor{}, err
		}
	}
	cfgName, err := img.ConfigName()
	if err != nil {
		return v1.Descriptor{}, err
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		return v1.Descriptor{}, err
	}
	if err := b.bytes(cfgName, cfg); err != nil {
		return v1.Descriptor{}, err
	}
	raw, err := img.RawManifest()
	if err != nil {
		return v1.Descriptor{}, err
	}
	mt, err := img.MediaType()
	if err != nil {
		return v1.Descriptor{}, err
	}
	if b.ociTypes {
		if raw, mt, err = ociManifest(raw, mt); err != nil {
			return v1.Descriptor{}, err
		}
	}
	d := v1.Descriptor{MediaType: mt, Digest: hashBytes(raw), Size: int64(len(raw))}
	if v, err := parseV1Image(cfg); err == nil && v.OS != "" {
		d.Platform = &v1.Platform{OS: v.OS, Architecture: v.Architecture, Variant: v.Variant}
	}
	return d, b.bytes(d.Digest, raw)
}

// index writes every blob an index reaches, children before parents, and
// returns the descriptor of the index as written.
func (b *blobWriter) index(idx v1.ImageIndex) (v1.Descriptor, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return v1.Descriptor{}, err
	}
	changed := false
	for i, d := range im.Manifests {
		var nd v1.Descriptor
		switch {
		case d.MediaType.IsIndex():
			child, err := idx.ImageIndex(d.Digest)
			if err != nil {
				return v1.Descriptor{}, err
			}
			if nd, err = b.index(child); err != nil {
				return v1.Descriptor{}, err
			}
		case d.MediaType.IsImage():
			img, err := idx.Image(d.Digest)
			if err != nil {
				return v1.Descriptor{}, err
			}
			if nd, err = b.image(img); err != nil {
				what := d.Digest.String()
				if d.Platform != nil {
					what = platform.String(*d.Platform)
				}
				return v1.Descriptor{}, fmt.Errorf("image %s: %w", what, err)
			}
		default:
			continue
		}
		if nd.Digest != d.Digest {
			im.Manifests[i].MediaType, im.Manifests[i].Digest, im.Manifests[i].Size = nd.MediaType, nd.Digest, nd.Size
			changed = true
		}
	}
	raw, err := idx.RawManifest()
	if err != nil {
		return v1.Descriptor{}, err
	}
	mt, err := idx.MediaType()
	if err != nil {
		return v1.Descriptor{}, err
	}
	if b.ociTypes && (changed || mt != mediatype.OCI(mt)) {
		mt = mediatype.OCI(mt)
		im.MediaType = mt
		if raw, err = json.Marshal(im); err != nil {
			return v1.Descriptor{}, err
		}
	}
	d := v1.Descriptor{MediaType: mt, Digest: hashBytes(raw), Size: int64(len(raw))}
	return d, b.bytes(d.Digest, raw)
}

// ociManifest rewrites an image manifest with OCI media types; an OCI one
// is left as it is, keeping its digest.
func ociManifest(raw []byte, mt types.MediaType) ([]byte, types.MediaType, error) {
	if mediatype.OCI(mt) == mt {
		return raw, mt, nil
	}
	m, err := v1.ParseManifest(bytesReader(raw))
	if err != nil {
		return nil, "", err
	}
	m = mediatype.OCIManifest(m)
	out, err := json.Marshal(m)
	return out, m.MediaType, err
}
