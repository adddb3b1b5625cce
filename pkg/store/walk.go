package store

import (
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Walk calls fn for d and every descriptor below it: an index's manifests
// (recursively), a manifest's config and layers. Blobs the store lacks (a
// foreign layer, an image not yet complete) are visited but not opened. It
// is the one walk over stored manifests: prune keeps what it visits, push
// lends what it visits as mount sources.
func (s *Store) Walk(d v1.Descriptor, fn func(v1.Descriptor) error) error {
	if err := fn(d); err != nil {
		return err
	}
	if !s.HasBlob(d.Digest) {
		return nil
	}
	switch {
	case d.MediaType.IsIndex():
		x, err := s.Index(d.Digest)
		if err != nil {
			return err
		}
		im, err := x.IndexManifest()
		if err != nil {
			return err
		}
		for _, c := range im.Manifests {
			if err := s.Walk(c, fn); err != nil {
				return err
			}
		}
	case d.MediaType.IsImage():
		raw, err := s.ReadBlob(d.Digest)
		if err != nil {
			return err
		}
		m, err := v1.ParseManifest(bytesReader(raw))
		if err != nil {
			return fmt.Errorf("manifest %s: %w", d.Digest, err)
		}
		if err := fn(m.Config); err != nil {
			return err
		}
		for _, l := range m.Layers {
			if err := fn(l); err != nil {
				return err
			}
		}
	}
	return nil
}

// WalkIndex calls image for every image idx lists and index for every
// index below it (nested ones too), each child before the index that names
// it (the order a push needs: a registry refuses an index whose manifests it
// has not got) and each digest once; idx itself is not visited. Entries
// that are neither (attestations, artifacts) are passed over: they are kept
// by reference only. It is the one walk over an index's manifests, stored or
// not: WriteIndex stores what it visits, push sends it.
func WalkIndex(idx v1.ImageIndex, image func(v1.Descriptor, v1.Image) error, index func(v1.Descriptor, v1.ImageIndex) error) error {
	return walkIndex(idx, map[v1.Hash]bool{}, image, index)
}

func walkIndex(idx v1.ImageIndex, seen map[v1.Hash]bool, image func(v1.Descriptor, v1.Image) error, index func(v1.Descriptor, v1.ImageIndex) error) error {
	im, err := idx.IndexManifest()
	if err != nil {
		return err
	}
	for _, d := range im.Manifests {
		if seen[d.Digest] {
			continue
		}
		seen[d.Digest] = true
		switch {
		case d.MediaType.IsIndex():
			child, err := idx.ImageIndex(d.Digest)
			if err != nil {
				return err
			}
			if err := walkIndex(child, seen, image, index); err != nil {
				return err
			}
			if err := index(d, child); err != nil {
				return err
			}
		case d.MediaType.IsImage():
			child, err := idx.Image(d.Digest)
			if err != nil {
				return err
			}
			if err := image(d, child); err != nil {
				return err
			}
		}
	}
	return nil
}
