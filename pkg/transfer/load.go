package transfer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/gantry-build/gantry/internal/compress"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/gantry-build/gantry/pkg/archive"
	"github.com/gantry-build/gantry/pkg/progress"
	"github.com/gantry-build/gantry/pkg/reference"
	"github.com/gantry-build/gantry/pkg/store"
)

// LoadResult is one image taken from an archive.
type LoadResult struct {
	Names    []string // names it is stored under, as Docker prints them; empty if the archive gave none
	ID       v1.Hash  // Docker's image ID (the config digest); the index digest for a multi-platform image
	Manifest v1.Hash
}

// Load stores every image of the archive at path. Docker archives carry
// uncompressed layers: they are gzip-compressed on all cores on the way in,
// and the image keeps its config bytes, hence Docker's image ID.
func Load(ctx context.Context, st *store.Store, path string, rep progress.Reporter) ([]LoadResult, error) {
	if rep == nil {
		rep = progress.Nop()
	}
	a, err := archive.Open(path)
	if err != nil {
		return nil, err
	}
	defer a.Close()
	loaded, err := a.Images()
	if err != nil {
		return nil, err
	}
	done, err := st.Writing()
	if err != nil {
		return nil, err
	}
	defer done()
	var out []LoadResult
	for _, l := range loaded {
		var desc v1.Descriptor
		res := LoadResult{}
		switch {
		case l.Index != nil:
			if desc, err = st.WriteIndex(ctx, l.Index, store.WriteOptions{Progress: rep}); err != nil {
				return out, err
			}
			res.ID = desc.Digest
		default:
			if desc, err = storeArchiveImage(ctx, st, l.Image, rep); err != nil {
				return out, err
			}
			if res.ID, err = l.Image.ConfigName(); err != nil {
				return out, err
			}
		}
		res.Manifest = desc.Digest
		if len(l.Names) == 0 {
			if err := st.Keep(desc); err != nil {
				return out, err
			}
		}
		for _, n := range l.Names {
			if err := st.SetName(reference.Canonical(n), desc); err != nil {
				return out, err
			}
			res.Names = append(res.Names, reference.Familiar(n))
		}
		out = append(out, res)
	}
	return out, nil
}

// storeArchiveImage stores img; uncompressed layers are compressed first,
// which gives the image a new manifest (its config, hence its ID, stays).
// Every layer is checked against the config's diff IDs on the way in.
func storeArchiveImage(ctx context.Context, st *store.Store, img v1.Image, rep progress.Reporter) (v1.Descriptor, error) {
	m, err := img.Manifest()
	if err != nil {
		return v1.Descriptor{}, err
	}
	if !hasUncompressed(m) {
		return st.WriteImage(ctx, img, store.WriteOptions{Progress: rep})
	}
	if err := store.CheckManifest(m); err != nil {
		return v1.Descriptor{}, err
	}
	rawConfig, err := img.RawConfigFile()
	if err != nil {
		return v1.Descriptor{}, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("config %s: %w", m.Config.Digest, err)
	}
	if len(cf.RootFS.DiffIDs) != len(m.Layers) {
		return v1.Descriptor{}, fmt.Errorf("config %s lists %d diff_ids for %d layers", m.Config.Digest, len(cf.RootFS.DiffIDs), len(m.Layers))
	}
	out := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.DockerManifestSchema2,
		Config:        v1.Descriptor{MediaType: types.DockerConfigJSON, Size: int64(len(rawConfig)), Digest: m.Config.Digest},
	}
	for i, ld := range m.Layers {
		label := fmt.Sprintf("layer %d/%d", i+1, len(m.Layers))
		diffID := cf.RootFS.DiffIDs[i]
		l, err := img.LayerByDigest(ld.Digest)
		if err != nil {
			return v1.Descriptor{}, err
		}
		if !store.IsUncompressed(ld.MediaType) {
			if err := st.WriteLayer(ctx, l, ld, diffID, label, rep); err != nil {
				return v1.Descriptor{}, err
			}
			out.Layers = append(out.Layers, ld)
			continue
		}
		d, err := compressLayer(ctx, st, l, ld, diffID, label, rep)
		if err != nil {
			return v1.Descriptor{}, err
		}
		out.Layers = append(out.Layers, d)
	}
	if err := st.WriteBlob(m.Config.Digest, int64(len(rawConfig)), bytes.NewReader(rawConfig)); err != nil {
		return v1.Descriptor{}, err
	}
	rawManifest, err := json.Marshal(out)
	if err != nil {
		return v1.Descriptor{}, err
	}
	h, err := st.WriteBlobBytes(rawManifest)
	if err != nil {
		return v1.Descriptor{}, err
	}
	return v1.Descriptor{MediaType: out.MediaType, Size: int64(len(rawManifest)), Digest: h, Platform: cf.Platform()}, nil
}

func hasUncompressed(m *v1.Manifest) bool {
	for _, l := range m.Layers {
		if store.IsUncompressed(l.MediaType) {
			return true
		}
	}
	return false
}

// compressLayer gzips an uncompressed layer into the store, hashing the tar
// as it goes: a tar that is not its diff ID never gets a blob. A layer
// compressed by an earlier load is only hashed, and its blob taken again,
// so that loading an archive twice gives the same manifest.
func compressLayer(ctx context.Context, st *store.Store, l v1.Layer, ld v1.Descriptor, diffID v1.Hash, label string, rep progress.Reporter) (v1.Descriptor, error) {
	id := ld.Digest.String()
	rep.Start(id, label, ld.Size)
	rc, err := l.Compressed()
	if err != nil {
		rep.Fail(id, err)
		return v1.Descriptor{}, err
	}
	defer rc.Close()
	fail := func(err error) (v1.Descriptor, error) {
		rep.Fail(id, err)
		return v1.Descriptor{}, fmt.Errorf("%s: %w", label, err)
	}
	diff := sha256.New()
	in := io.TeeReader(progress.Reader(ctx, rc, rep, id), diff)
	check := func() error {
		if got := (v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(diff.Sum(nil))}); got != diffID {
			return fmt.Errorf("%s: %w: its content is %s, but the image config's rootfs.diff_ids says %s", ld.Digest, store.ErrDiffIDMismatch, got, diffID)
		}
		return nil
	}
	if blob, size, ok := st.CompressedOf(diffID); ok {
		if _, err := io.Copy(io.Discard, in); err != nil {
			return fail(err)
		}
		if err := check(); err != nil {
			return fail(err)
		}
		rep.Done(id)
		return v1.Descriptor{MediaType: types.DockerLayer, Size: size, Digest: blob}, nil
	}
	w, err := st.NewBlobWriter()
	if err != nil {
		return v1.Descriptor{}, err
	}
	defer w.Abort()
	zw, err := compress.NewWriter(w, compress.Gzip)
	if err != nil {
		return v1.Descriptor{}, err
	}
	if _, err := io.Copy(zw, in); err != nil {
		return fail(err)
	}
	if err := zw.Close(); err != nil {
		return v1.Descriptor{}, err
	}
	if err := check(); err != nil {
		return fail(err)
	}
	h, err := w.CommitLayer(diffID)
	if err != nil {
		return v1.Descriptor{}, err
	}
	st.RememberCompressed(diffID, h)
	rep.Done(id)
	return v1.Descriptor{MediaType: types.DockerLayer, Size: w.Size(), Digest: h}, nil
}

// LoadReader stores the images of an archive read from r (stdin): it is
// spooled to a temporary file first, because archives are read out of order.
func LoadReader(ctx context.Context, st *store.Store, r io.Reader, rep progress.Reporter) ([]LoadResult, error) {
	f, err := os.CreateTemp("", "gantry-load-*.tar")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	// A read from a pipe cannot be cancelled: the copy runs on its own so
	// that an interrupted load returns (and removes its spool) at once.
	copied := make(chan error, 1)
	go func() {
		_, err := io.Copy(f, r)
		copied <- err
	}()
	select {
	case err := <-copied:
		if err != nil {
			return nil, fmt.Errorf("reading the archive from standard input: %w", err)
		}
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	return Load(ctx, st, f.Name(), rep)
}
