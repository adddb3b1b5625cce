package store

import (
	"bytes"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
)

// WithKeptConfig is img, an image read from a registry, with its config
// read from the store when the store has the blob the manifest names, and
// kept there when it is fetched: a build from a registry base fetches the
// manifest (a tag may have moved) but its config only once per store. The
// blob's name is its digest, checked when it was written, so its bytes
// are the registry's. img's layers stay the registry's (mountable on push).
func (s *Store) WithKeptConfig(img v1.Image) v1.Image {
	inner, verified := img, false
	if v, ok := img.(verifiedImage); ok {
		inner, verified = v.Image, true
	}
	m, err := inner.Manifest()
	if err != nil || m.Config.Data != nil || CheckManifest(m) != nil {
		return img // the config is in the manifest, or the image will fail on its own
	}
	raw, err := s.readSized(m.Config.Digest, m.Config.Size)
	if err != nil {
		if raw, err = inner.RawConfigFile(); err != nil {
			return img // fetched again, and failing the same way, when needed
		}
		// Kept only when it hashes to the name the manifest gives it.
		if s.WriteBlob(m.Config.Digest, m.Config.Size, bytes.NewReader(raw)) != nil {
			return img
		}
	}
	var out v1.Image = keptConfig{Image: inner, raw: raw, name: m.Config.Digest}
	if verified {
		out = verifiedImage{out}
	}
	return out
}

// readSized is the stored blob h when it holds exactly size bytes (a
// manifest's descriptor names both; CheckManifest has bounded the size):
// a manifest naming a large stored blob as its config makes gantry read
// nothing of it.
func (s *Store) readSized(h v1.Hash, size int64) ([]byte, error) {
	f, err := s.OpenBlob(h)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() != size {
		return nil, fmt.Errorf("blob %s: %d bytes stored, %d named", h, fi.Size(), size)
	}
	b := make([]byte, size)
	if _, err := io.ReadFull(f, b); err != nil {
		return nil, err
	}
	return b, nil
}

// keptConfig is a registry image whose config is known.
type keptConfig struct {
	v1.Image
	raw  []byte
	name v1.Hash
}

func (i keptConfig) RawConfigFile() ([]byte, error) { return i.raw, nil }

func (i keptConfig) ConfigFile() (*v1.ConfigFile, error) {
	return v1.ParseConfigFile(bytes.NewReader(i.raw))
}

func (i keptConfig) ConfigName() (v1.Hash, error) { return i.name, nil }

// Descriptor keeps the registry image's (its index descriptor).
func (i keptConfig) Descriptor() (*v1.Descriptor, error) { return partial.Descriptor(i.Image) }
