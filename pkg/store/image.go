package store

import (
	"context"
	"fmt"

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
}

func (o WriteOptions) reporter() progress.Reporter {
	if o.Progress == nil {
		return progress.Nop()
	}
	return o.Progress
}

// WriteImage stores every blob of img that the store lacks (layers in
// parallel), then its config and manifest, byte for byte: the manifest keeps
// its digest. It does not name the image; call SetName afterwards.
func (s *Store) WriteImage(ctx context.Context, img v1.Image, opts WriteOptions) (v1.Descriptor, error) {
	rawManifest, err := img.RawManifest()
	if err != nil {
		return v1.Descriptor{}, err
	}
	m, err := img.Manifest()
	if err != nil {
		return v1.Descriptor{}, err
	}
	digest, err := img.Digest()
	if err != nil {
		return v1.Descriptor{}, err
	}
	rep := opts.reporter()
	if s.HasBlob(digest) && s.hasAll(m) {
		return s.describe(img, digest, rawManifest, m)
	}

	g, ctx := errgroup.WithContext(ctx)
	jobs := opts.Jobs
	if jobs < 1 {
		jobs = 4
	}
	g.SetLimit(jobs)
	seen := map[v1.Hash]bool{}
	for i, ld := range m.Layers {
		label := fmt.Sprintf("layer %d/%d", i+1, len(m.Layers))
		if seen[ld.Digest] {
			continue // a layer listed twice is fetched once
		}
		seen[ld.Digest] = true
		if s.HasBlob(ld.Digest) {
			rep.Skip(ld.Digest.String(), label, "already in store")
			continue
		}
		if len(ld.URLs) > 0 && !ld.MediaType.IsDistributable() {
			// Foreign layers (Windows base layers) are fetched from their
			// URLs by the engine that runs the image, never stored.
			rep.Skip(ld.Digest.String(), label, "foreign layer")
			continue
		}
		g.Go(func() error {
			l, err := img.LayerByDigest(ld.Digest)
			if err != nil {
				return err
			}
			if err := s.writeLayer(ctx, l, ld, label, rep, opts.SourceVerifies); err != nil {
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
	rawConfig, err := img.RawConfigFile()
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("config %s: %w", m.Config.Digest, err)
	}
	if err := s.WriteBlob(m.Config.Digest, m.Config.Size, bytesReader(rawConfig)); err != nil {
		return v1.Descriptor{}, fmt.Errorf("config: %w", err)
	}
	// The manifest goes last: a manifest in the store promises its blobs are too.
	if err := s.WriteBlob(digest, int64(len(rawManifest)), bytesReader(rawManifest)); err != nil {
		return v1.Descriptor{}, fmt.Errorf("manifest: %w", err)
	}
	return s.describe(img, digest, rawManifest, m)
}

func (s *Store) writeLayer(ctx context.Context, l v1.Layer, ld v1.Descriptor, label string, rep progress.Reporter, verified bool) error {
	id := ld.Digest.String()
	rep.Start(id, label, ld.Size)
	rc, err := l.Compressed()
	if err != nil {
		rep.Fail(id, err)
		return fmt.Errorf("%s %s: %w", label, ld.Digest, err)
	}
	defer rc.Close()
	r := progress.Reader(ctx, rc, rep, id)
	// A source that verifies itself fails at its end on a mismatch: the
	// copy need not be hashed again to keep bad bytes from a final name.
	if err := s.writeBlob(ld.Digest, ld.Size, r, !verified); err != nil {
		rep.Fail(id, err)
		return fmt.Errorf("%s: %w", label, err)
	}
	rep.Done(id)
	return nil
}

func (s *Store) hasAll(m *v1.Manifest) bool {
	if !s.HasBlob(m.Config.Digest) {
		return false
	}
	for _, l := range m.Layers {
		if !s.HasBlob(l.Digest) && len(l.URLs) == 0 {
			return false
		}
	}
	return true
}

func (s *Store) describe(img v1.Image, digest v1.Hash, raw []byte, m *v1.Manifest) (v1.Descriptor, error) {
	desc := v1.Descriptor{MediaType: m.MediaType, Digest: digest, Size: int64(len(raw))}
	if desc.MediaType == "" {
		mt, err := img.MediaType()
		if err != nil {
			return desc, err
		}
		desc.MediaType = mt
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return desc, fmt.Errorf("config %s: %w", m.Config.Digest, err)
	}
	desc.Platform = cf.Platform()
	return desc, nil
}

// WriteIndex stores idx, every image and nested index it lists, and their
// blobs.
func (s *Store) WriteIndex(ctx context.Context, idx v1.ImageIndex, opts WriteOptions) (v1.Descriptor, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return v1.Descriptor{}, err
	}
	for _, d := range im.Manifests {
		switch {
		case d.MediaType.IsIndex():
			child, err := idx.ImageIndex(d.Digest)
			if err != nil {
				return v1.Descriptor{}, err
			}
			if _, err := s.WriteIndex(ctx, child, opts); err != nil {
				return v1.Descriptor{}, err
			}
		case d.MediaType.IsImage():
			child, err := idx.Image(d.Digest)
			if err != nil {
				return v1.Descriptor{}, err
			}
			if _, err := s.WriteImage(ctx, child, opts); err != nil {
				return v1.Descriptor{}, fmt.Errorf("%s: %w", platformString(d.Platform), err)
			}
		default:
			// Attestations and other artifacts are kept by reference only.
		}
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
