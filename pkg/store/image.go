package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"

	"github.com/gantry-build/gantry/pkg/progress"
)

// WriteOptions tune how images enter the store.
type WriteOptions struct {
	Jobs     int               // blobs written at once; <1 means 4
	Progress progress.Reporter // nil means silent
	// SourceVerifies: the layers' Compressed readers fail on a size or
	// digest mismatch themselves, as go-containerregistry's remote layers
	// do, so the store does not hash every byte a second time (on a fast
	// registry the second hash costs as much CPU as the download).
	SourceVerifies bool
	// Stored, when set, is called as each layer blob gets its final name,
	// so that a reader can start on it while the others still arrive.
	Stored func(v1.Hash)
	// Lazy leaves layers that live in a registry (a base read from there)
	// where they are: the store records where, and fetches them when their
	// bytes are first needed (see lazy.go). A push never moves them.
	Lazy bool
}

func (o WriteOptions) reporter() progress.Reporter {
	if o.Progress == nil {
		return progress.Nop()
	}
	return o.Progress
}

// WriteImage stores every blob of img that the store lacks (layers in
// parallel), then its config and manifest, byte for byte: the manifest keeps
// its digest. Each layer is checked against its diff ID in the config while
// it is written (see verify.go); on any mismatch nothing of the image is
// named and the bad blob is not kept. It does not name the image; call
// SetName afterwards.
func (s *Store) WriteImage(ctx context.Context, img v1.Image, opts WriteOptions) (v1.Descriptor, error) {
	rawManifest, err := img.RawManifest()
	if err != nil {
		return v1.Descriptor{}, err
	}
	m, err := img.Manifest()
	if err != nil {
		return v1.Descriptor{}, err
	}
	if err := CheckManifest(m); err != nil {
		return v1.Descriptor{}, err
	}
	digest, err := img.Digest()
	if err != nil {
		return v1.Descriptor{}, err
	}
	rep := opts.reporter()
	// The config comes first: its diff IDs say what each layer must hold.
	// An image stored before costs no request for it.
	rawConfig, err := s.ReadBlob(m.Config.Digest)
	if err != nil {
		rawConfig, err = img.RawConfigFile()
	}
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("config %s: %w", m.Config.Digest, err)
	}
	diffIDs, err := configDiffIDs(m, rawConfig)
	if err != nil {
		return v1.Descriptor{}, err
	}

	g, ctx := errgroup.WithContext(ctx)
	jobs := opts.Jobs
	if jobs < 1 {
		jobs = 4
	}
	g.SetLimit(jobs)
	seen := map[v1.Hash]v1.Hash{} // blob → the diff ID claimed for it
	for i, ld := range m.Layers {
		label := fmt.Sprintf("layer %d/%d", i+1, len(m.Layers))
		diffID := diffIDs[i]
		if len(ld.URLs) > 0 && !ld.MediaType.IsDistributable() {
			// Foreign layers (Windows base layers) are fetched from their
			// URLs by the engine that runs the image, never stored.
			rep.Skip(ld.Digest.String(), label, "foreign layer")
			continue
		}
		if claimed, ok := seen[ld.Digest]; ok {
			if claimed != diffID {
				return v1.Descriptor{}, fmt.Errorf("%s: %s: %w: the config gives the same blob the diff IDs %s and %s", label, ld.Digest, ErrDiffIDMismatch, claimed, diffID)
			}
			continue // a layer listed twice is fetched once
		}
		seen[ld.Digest] = diffID
		if s.HasBlob(ld.Digest) {
			if got, ok := s.VerifiedDiffID(ld.Digest); ok {
				if got != diffID {
					return v1.Descriptor{}, fmt.Errorf("%s: %w", label, diffIDMismatch(ld.Digest, got, diffID))
				}
				rep.Skip(ld.Digest.String(), label, "already in store")
				continue
			}
		}
		if opts.Lazy && !s.HasBlob(ld.Digest) {
			// Left in a registry before (a base, a cached step): it stays
			// there, fetched and verified against the diff ID of whatever
			// image needs its bytes first.
			if repo, ok := s.BlobSource(ld.Digest); ok {
				rep.Skip(ld.Digest.String(), label, "left in "+repo)
				continue
			}
			if l, err := img.LayerByDigest(ld.Digest); err == nil {
				if repo, ok := lazySource(l); ok {
					if err := s.recordSource(ld.Digest, repo); err != nil {
						return v1.Descriptor{}, err
					}
					rep.Skip(ld.Digest.String(), label, "left in "+repo)
					continue
				}
			}
		}
		g.Go(func() error {
			if s.HasBlob(ld.Digest) {
				// Stored by a gantry that kept no record: read it once.
				if err := s.checkStoredLayer(ld.Digest, diffID); err != nil {
					return fmt.Errorf("%s: %w", label, err)
				}
				rep.Skip(ld.Digest.String(), label, "already in store")
				return nil
			}
			l, err := img.LayerByDigest(ld.Digest)
			if err != nil {
				return err
			}
			if err := s.writeLayer(ctx, l, ld, diffID, label, rep, opts.SourceVerifies); err != nil {
				return err
			}
			if opts.Stored != nil {
				opts.Stored(ld.Digest)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return v1.Descriptor{}, err
	}
	if err := s.WriteBlob(m.Config.Digest, m.Config.Size, bytesReader(rawConfig)); err != nil {
		return v1.Descriptor{}, fmt.Errorf("config: %w", err)
	}
	// The manifest goes last: a manifest in the store promises its blobs are too.
	if err := s.WriteBlob(digest, int64(len(rawManifest)), bytesReader(rawManifest)); err != nil {
		return v1.Descriptor{}, fmt.Errorf("manifest: %w", err)
	}
	return s.describe(img, digest, rawManifest, m, rawConfig)
}

// configDiffIDs reads rootfs.diff_ids from the config, which must be the
// one the manifest names and list one diff ID per layer, as Docker requires.
func configDiffIDs(m *v1.Manifest, raw []byte) ([]v1.Hash, error) {
	sum := sha256.Sum256(raw)
	if got := (v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}); m.Config.Digest.Algorithm == "sha256" && got != m.Config.Digest {
		return nil, fmt.Errorf("config %s: %w: content hashes to %s", m.Config.Digest, ErrDigestMismatch, got)
	}
	cf, err := v1.ParseConfigFile(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("config %s is not an image config: %w", m.Config.Digest, err)
	}
	if len(cf.RootFS.DiffIDs) != len(m.Layers) {
		return nil, fmt.Errorf("config %s lists %d diff_ids for the manifest's %d layers", m.Config.Digest, len(cf.RootFS.DiffIDs), len(m.Layers))
	}
	return cf.RootFS.DiffIDs, nil
}

// writeLayer stores the layer blob, hashing its uncompressed content as it
// is written; the blob is named only when both its digest and its diff ID
// are right.
func (s *Store) writeLayer(ctx context.Context, l v1.Layer, ld v1.Descriptor, diffID v1.Hash, label string, rep progress.Reporter, verified bool) error {
	id := ld.Digest.String()
	rep.Start(id, label, ld.Size)
	rc, err := l.Compressed()
	if err != nil {
		rep.Fail(id, err)
		return fmt.Errorf("%s %s: %w", label, ld.Digest, err)
	}
	defer rc.Close()
	dh := newDiffHasher()
	defer dh.stop()
	r := io.TeeReader(progress.Reader(ctx, rc, rep, id), dh)
	checked := false
	// A source that verifies itself fails at its end on a mismatch: the
	// copy need not be hashed again to keep bad bytes from a final name.
	err = s.writeBlob(ld.Digest, ld.Size, r, !verified, func() error {
		checked = true
		got, err := dh.sum()
		if err != nil {
			return fmt.Errorf("%s: decompressing: %w", ld.Digest, err)
		}
		if got != diffID {
			return diffIDMismatch(ld.Digest, got, diffID)
		}
		return nil
	})
	if err == nil && !checked {
		err = s.checkStoredLayer(ld.Digest, diffID) // another writer stored it meanwhile
	}
	if err != nil {
		rep.Fail(id, err)
		return fmt.Errorf("%s: %w", label, err)
	}
	s.recordDiffID(ld.Digest, diffID)
	rep.Done(id)
	return nil
}

func (s *Store) describe(img v1.Image, digest v1.Hash, raw []byte, m *v1.Manifest, rawConfig []byte) (v1.Descriptor, error) {
	desc := v1.Descriptor{MediaType: m.MediaType, Digest: digest, Size: int64(len(raw))}
	if desc.MediaType == "" {
		mt, err := img.MediaType()
		if err != nil {
			return desc, err
		}
		desc.MediaType = mt
	}
	cf, err := v1.ParseConfigFile(bytes.NewReader(rawConfig))
	if err != nil {
		return desc, fmt.Errorf("config %s: %w", m.Config.Digest, err)
	}
	desc.Platform = cf.Platform()
	return desc, nil
}

// WriteIndex stores idx, every image and nested index it lists, and their
// blobs.
func (s *Store) WriteIndex(ctx context.Context, idx v1.ImageIndex, opts WriteOptions) (v1.Descriptor, error) {
	if _, err := checkedIndex(idx); err != nil {
		return v1.Descriptor{}, err
	}
	// Nested indexes are stored as the walk reaches them, after their
	// images; the top one last.
	err := WalkIndex(idx, func(d v1.Descriptor, child v1.Image) error {
		if _, err := s.WriteImage(ctx, child, opts); err != nil {
			return fmt.Errorf("%s: %w", platformString(d.Platform), err)
		}
		return nil
	}, func(d v1.Descriptor, child v1.ImageIndex) error {
		_, err := s.writeIndexManifest(child)
		return err
	})
	if err != nil {
		return v1.Descriptor{}, err
	}
	return s.writeIndexManifest(idx)
}

// checkedIndex is idx's manifest, refused when it breaks CheckIndex.
func checkedIndex(idx v1.ImageIndex) (*v1.IndexManifest, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	return im, CheckIndex(im)
}

// writeIndexManifest stores idx's own manifest (its children are stored).
func (s *Store) writeIndexManifest(idx v1.ImageIndex) (v1.Descriptor, error) {
	if _, err := checkedIndex(idx); err != nil {
		return v1.Descriptor{}, err
	}
	raw, err := idx.RawManifest()
	if err != nil {
		return v1.Descriptor{}, err
	}
	digest, err := idx.Digest()
	if err != nil {
		return v1.Descriptor{}, err
	}
	if err := s.WriteBlob(digest, int64(len(raw)), bytesReader(raw)); err != nil {
		return v1.Descriptor{}, fmt.Errorf("index: %w", err)
	}
	mt, err := idx.MediaType()
	if err != nil {
		return v1.Descriptor{}, err
	}
	return v1.Descriptor{MediaType: mt, Digest: digest, Size: int64(len(raw))}, nil
}

func platformString(p *v1.Platform) string {
	if p == nil {
		return "unknown platform"
	}
	return p.String()
}
