package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/gantry-build/gantry/pkg/progress"
)

// Lazy blobs: an image built on a base read from a registry can be stored
// without its base's layers (WriteOptions.Lazy). A push sends them straight
// from their registry, or mounts them there; nothing downloads them until
// something really needs their bytes (RUN, save, export, run), and then
// they are fetched once, verified as any pull.

// Fetcher opens a layer blob d of the repository repo (registry/name) in
// its registry. The store does not speak to registries itself: the caller
// that has a registry client gives it one (SetFetcher).
type Fetcher func(ctx context.Context, repo string, d v1.Descriptor) (v1.Layer, error)

// SetFetcher lets the store fetch the blobs it holds lazily, each fetch
// under ctx (the command's: an interrupt stops a download under way; the
// layer methods that need the bytes take no context of their own).
func (s *Store) SetFetcher(ctx context.Context, f Fetcher) { s.fetchCtx, s.fetch = ctx, f }

func (s *Store) sourceDir() string { return filepath.Join(s.root, "sources", "sha256") }

// recordSource notes that blob h lives in repository repo.
func (s *Store) recordSource(h v1.Hash, repo string) error {
	if err := os.MkdirAll(s.sourceDir(), 0o700); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(s.sourceDir(), h.Hex), []byte(repo+"\n"), 0o600)
}

// BlobSource is the repository a blob the store does not hold lives in.
func (s *Store) BlobSource(h v1.Hash) (string, bool) {
	b, err := os.ReadFile(filepath.Join(s.sourceDir(), h.Hex))
	if err != nil {
		return "", false
	}
	return strings.TrimSpace(string(b)), true
}

// lazySource tells whether layer l of an image being stored lives in a
// registry, and which repository: go-containerregistry marks the layers of
// remote images so.
func lazySource(l v1.Layer) (string, bool) {
	ml, ok := l.(*remote.MountableLayer)
	if !ok {
		return "", false
	}
	return ml.Reference.Context().Name(), true
}

// ensureBlob fetches a lazily stored layer blob when its bytes are needed,
// verified against its digest and diffID before it gets its name.
func (s *Store) ensureBlob(d v1.Descriptor, diffID v1.Hash) error {
	if s.HasBlob(d.Digest) {
		return nil
	}
	repo, ok := s.BlobSource(d.Digest)
	if !ok || s.fetch == nil {
		return fmt.Errorf("blob %s: %w", d.Digest, ErrNotFound)
	}
	ctx := s.fetchCtx
	l, err := s.fetch(ctx, repo, d)
	if err != nil {
		return fmt.Errorf("layer %s from %s: %w", d.Digest, repo, err)
	}
	if err := s.writeLayer(ctx, l, d, diffID, "layer", progress.Nop(), false); err != nil {
		if errors.Is(err, ErrDiffIDMismatch) {
			return err
		}
		return fmt.Errorf("layer %s from %s: %w", d.Digest, repo, err)
	}
	return nil
}

// pruneSources drops the records of blobs no stored image refers to.
func (s *Store) pruneSources(keep map[string]bool, res *PruneResult) error {
	records, _ := os.ReadDir(s.sourceDir())
	for _, e := range records {
		if keep[e.Name()] && !s.HasBlob(v1.Hash{Algorithm: "sha256", Hex: e.Name()}) {
			continue
		}
		if err := s.removeCounting(filepath.Join(s.sourceDir(), e.Name()), res); err != nil {
			return err
		}
	}
	return nil
}
