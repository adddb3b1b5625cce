package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Entry is one name in the store and the manifest or index it points to.
type Entry struct {
	Name       string        // canonical reference, docker.io/library/busybox:latest
	Descriptor v1.Descriptor // the manifest or index; Platform set for single-platform images
}

// IsIndex reports whether the entry names a multi-platform index.
func (e Entry) IsIndex() bool { return e.Descriptor.MediaType.IsIndex() }

// Source is the repository the image was pulled from, or "".
func (e Entry) Source() string { return e.Descriptor.Annotations[AnnotationSource] }

func emptyIndex() []byte {
	b, _ := json.MarshalIndent(v1.IndexManifest{
		SchemaVersion: 2,
		MediaType:     types.OCIImageIndex,
		Manifests:     []v1.Descriptor{},
	}, "", "  ")
	return b
}

func (s *Store) readIndex() (*v1.IndexManifest, error) {
	b, err := os.ReadFile(filepath.Join(s.root, "index.json"))
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", s.root, err)
	}
	idx, err := v1.ParseIndexManifest(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("store %s: index.json is corrupt: %w", s.root, err)
	}
	return idx, nil
}

// List returns every named image, sorted by name.
func (s *Store) List() ([]Entry, error) {
	idx, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	var out []Entry
	for _, d := range idx.Manifests {
		// Unnamed entries (a loaded image without a tag) keep their blobs
		// from prune and are listed with an empty name.
		out = append(out, Entry{Name: d.Annotations[AnnotationRefName], Descriptor: d})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Get returns the entry called name (a canonical reference).
func (s *Store) Get(name string) (Entry, error) {
	entries, err := s.List()
	if err != nil {
		return Entry{}, err
	}
	for _, e := range entries {
		if name != "" && e.Name == name {
			return e, nil
		}
	}
	return Entry{}, fmt.Errorf("%s: %w", name, ErrNotFound)
}

// FindDigest returns an entry whose manifest digest starts with prefix
// ("sha256:abcd…" or the bare hex), as Docker accepts image ID prefixes.
func (s *Store) FindDigest(prefix string) (Entry, error) {
	prefix = strings.TrimPrefix(prefix, "sha256:")
	if len(prefix) < 4 {
		return Entry{}, fmt.Errorf("%s: %w", prefix, ErrNotFound)
	}
	entries, err := s.List()
	if err != nil {
		return Entry{}, err
	}
	var found *Entry
	for i, e := range entries {
		if strings.HasPrefix(e.Descriptor.Digest.Hex, prefix) {
			if found != nil && found.Descriptor.Digest != e.Descriptor.Digest {
				return Entry{}, fmt.Errorf("%s is ambiguous: it matches %s and %s", prefix, found.Name, e.Name)
			}
			found = &entries[i]
		}
	}
	if found == nil {
		return Entry{}, fmt.Errorf("%s: %w", prefix, ErrNotFound)
	}
	return *found, nil
}

// SetName points name at desc, replacing what the name held. The blobs desc
// refers to must be stored already.
func (s *Store) SetName(name string, desc v1.Descriptor) error {
	desc.Annotations = copyAnnotations(desc.Annotations)
	desc.Annotations[AnnotationRefName] = name
	desc.Annotations[AnnotationImageName] = name
	return s.updateIndex(func(idx *v1.IndexManifest) error {
		idx.Manifests = withoutName(idx.Manifests, name)
		// A name replaces an unnamed entry kept for the same digest.
		idx.Manifests = withoutUnnamed(idx.Manifests, desc.Digest)
		idx.Manifests = append(idx.Manifests, desc)
		sort.SliceStable(idx.Manifests, func(i, j int) bool {
			return idx.Manifests[i].Annotations[AnnotationRefName] < idx.Manifests[j].Annotations[AnnotationRefName]
		})
		return nil
	})
}

// Keep records desc in the index without a name, so that prune keeps its
// blobs, unless some entry already points at the same digest.
func (s *Store) Keep(desc v1.Descriptor) error {
	return s.updateIndex(func(idx *v1.IndexManifest) error {
		for _, d := range idx.Manifests {
			if d.Digest == desc.Digest {
				return nil
			}
		}
		idx.Manifests = append(idx.Manifests, desc)
		return nil
	})
}

// RemoveDigest removes every entry, named or not, pointing at digest h.
func (s *Store) RemoveDigest(h v1.Hash) error {
	return s.updateIndex(func(idx *v1.IndexManifest) error {
		var kept []v1.Descriptor
		for _, d := range idx.Manifests {
			if d.Digest != h {
				kept = append(kept, d)
			}
		}
		if len(kept) == len(idx.Manifests) {
			return fmt.Errorf("%s: %w", h, ErrNotFound)
		}
		idx.Manifests = kept
		return nil
	})
}

// RemoveName removes name; its blobs stay until Prune.
func (s *Store) RemoveName(name string) error {
	return s.updateIndex(func(idx *v1.IndexManifest) error {
		kept := withoutName(idx.Manifests, name)
		if len(kept) == len(idx.Manifests) {
			return fmt.Errorf("%s: %w", name, ErrNotFound)
		}
		idx.Manifests = kept
		return nil
	})
}

func (s *Store) updateIndex(change func(*v1.IndexManifest) error) error {
	unlock, err := s.lockIndex()
	if err != nil {
		return err
	}
	defer unlock()
	idx, err := s.readIndex()
	if err != nil {
		return err
	}
	if err := change(idx); err != nil {
		return err
	}
	if idx.Manifests == nil {
		idx.Manifests = []v1.Descriptor{}
	}
	b, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return err
	}
	return s.replaceFile(filepath.Join(s.root, "index.json"), b)
}

func withoutName(ds []v1.Descriptor, name string) []v1.Descriptor {
	out := ds[:0:0]
	for _, d := range ds {
		if d.Annotations[AnnotationRefName] != name {
			out = append(out, d)
		}
	}
	return out
}

func withoutUnnamed(ds []v1.Descriptor, h v1.Hash) []v1.Descriptor {
	out := ds[:0:0]
	for _, d := range ds {
		if d.Digest != h || d.Annotations[AnnotationRefName] != "" {
			out = append(out, d)
		}
	}
	return out
}

func copyAnnotations(a map[string]string) map[string]string {
	out := make(map[string]string, len(a)+2)
	for k, v := range a {
		out[k] = v
	}
	return out
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
