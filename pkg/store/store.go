// Package store is gantry's local image store: an OCI image layout on disk
// (blobs by digest, names in index.json) that several gantry processes may use
// at once.
//
// Blobs are written to tmp/ and renamed to blobs/sha256/HEX only after their
// digest and size have been checked, so a killed gantry never leaves a
// half-written blob under its final name. index.json is rewritten under an
// exclusive lock and replaced atomically. Prune takes an exclusive lock that
// writers hold shared, so it never removes the blobs of a pull in progress.
package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ErrNotFound is returned when a name or blob is not in the store.
var ErrNotFound = errors.New("not found")

// Annotations gantry keeps on the index.json descriptors.
const (
	// AnnotationRefName holds the canonical name (docker.io/library/busybox:latest).
	// The OCI spec leaves its format open; skopeo and umoci take any string.
	AnnotationRefName = "org.opencontainers.image.ref.name"
	// AnnotationImageName is containerd's key for the same full name.
	AnnotationImageName = "io.containerd.image.name"
	// AnnotationSource is the repository an image was pulled from
	// (docker.io/library/busybox). Push uses it to mount blobs across
	// repositories of the same registry instead of uploading them.
	AnnotationSource = "dev.gantry.source.repository"
	// AnnotationSourceDigest is the digest the tag pointed to when pulled: for a
	// platform picked out of an index it is the index's digest, so a repeated
	// pull can tell "unchanged" from one manifest request.
	AnnotationSourceDigest = "dev.gantry.source.digest"
)

// Store is an OCI image layout at Root.
type Store struct {
	root     string
	fetch    Fetcher         // fetches lazily stored blobs; nil: none can be
	fetchCtx context.Context // what every fetch runs under
}

// DefaultRoot returns $GANTRY_ROOT, else $XDG_DATA_HOME/gantry, else
// ~/.local/share/gantry.
func DefaultRoot() (string, error) {
	if r := os.Getenv("GANTRY_ROOT"); r != "" {
		return r, nil
	}
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "gantry"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("cannot find the store: set GANTRY_ROOT: %w", err)
	}
	return filepath.Join(home, ".local", "share", "gantry"), nil
}

// Open opens the store at root, creating an empty OCI layout there if needed.
// A new store is readable by its owner only (0700, files 0600): it holds
// image content, private bases and whatever builds put in their layers.
func Open(root string) (*Store, error) {
	s := &Store{root: root}
	for _, dir := range []string{root, s.blobDir(), s.tmpDir()} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("open store %s: %w", root, err)
		}
	}
	if err := s.writeFileIfMissing("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)); err != nil {
		return nil, err
	}
	if err := s.writeFileIfMissing("index.json", emptyIndex()); err != nil {
		return nil, err
	}
	return s, nil
}

// Root is the store's directory.
func (s *Store) Root() string { return s.root }

func (s *Store) blobDir() string { return filepath.Join(s.root, "blobs", "sha256") }
func (s *Store) tmpDir() string  { return filepath.Join(s.root, "tmp") }

func (s *Store) writeFileIfMissing(name string, data []byte) error {
	path := filepath.Join(s.root, name)
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	return s.replaceFile(path, data)
}

// replaceFile writes data to path atomically: readers see the old or the new
// content, never a part.
func (s *Store) replaceFile(path string, data []byte) error {
	f, err := os.CreateTemp(s.tmpDir(), filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("store: write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("store: write %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}
