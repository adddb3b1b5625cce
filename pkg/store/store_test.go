package store

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

func open(t *testing.T) *Store {
	t.Helper()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestWriteBlobRejectsMismatchAndLeavesNothing(t *testing.T) {
	s := open(t)
	good := []byte("hello")
	h, err := s.WriteBlobBytes(good)
	if err != nil {
		t.Fatal(err)
	}
	other := v1.Hash{Algorithm: "sha256", Hex: "0000000000000000000000000000000000000000000000000000000000000000"}
	err = s.WriteBlob(other, 5, bytes.NewReader(good))
	if !errors.Is(err, ErrDigestMismatch) {
		t.Fatalf("WriteBlob with a wrong digest: %v", err)
	}
	if s.HasBlob(other) {
		t.Error("a mismatching blob got its final name")
	}
	if err := s.WriteBlob(h, 4, bytes.NewReader(good)); err != nil {
		t.Fatalf("already stored blob: %v", err) // present: accepted without reading
	}
	tmp, _ := os.ReadDir(s.tmpDir())
	if len(tmp) != 0 {
		t.Errorf("temp files left behind: %v", tmp)
	}
}

func TestImageRoundTripAndLayoutCompatibility(t *testing.T) {
	s := open(t)
	img, err := random.Image(1024, 3)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := s.WriteImage(context.Background(), img, WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetName("docker.io/library/x:1", desc); err != nil {
		t.Fatal(err)
	}
	got, err := s.Image(desc.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(got); err != nil {
		t.Fatalf("stored image does not validate: %v", err)
	}
	// Other OCI tools read the store as a plain layout.
	p, err := layout.FromPath(s.Root())
	if err != nil {
		t.Fatal(err)
	}
	li, err := p.Image(desc.Digest)
	if err != nil {
		t.Fatalf("layout.Path cannot read the store: %v", err)
	}
	if d, _ := li.Digest(); d != desc.Digest {
		t.Errorf("layout digest %s, want %s", d, desc.Digest)
	}
}

func TestIndexChildrenReadableByDigest(t *testing.T) {
	s := open(t)
	a, _ := random.Image(100, 1)
	b, _ := random.Image(100, 1)
	idx := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: a}, mutate.IndexAddendum{Add: b})
	desc, err := s.WriteIndex(context.Background(), idx, WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Index(desc.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Index(got); err != nil {
		t.Fatalf("stored index does not validate: %v", err)
	}
	if _, err := s.Image(desc.Digest); err == nil {
		t.Error("Image() of an index digest succeeded")
	}
}

func TestConcurrentWritersAndNames(t *testing.T) {
	s := open(t)
	img, _ := random.Image(4096, 4)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			// A second Store value on the same root stands for another process.
			other, err := Open(s.Root())
			if err != nil {
				errs <- err
				return
			}
			done, err := other.Writing()
			if err != nil {
				errs <- err
				return
			}
			defer done()
			desc, err := other.WriteImage(context.Background(), img, WriteOptions{})
			if err != nil {
				errs <- err
				return
			}
			errs <- other.SetName(filepath.Join("example.com/n", string(rune('a'+i)))+":1", desc)
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	entries, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 8 {
		t.Fatalf("%d names after 8 concurrent SetName, want 8", len(entries))
	}
}

func TestPruneKeepsNamedDropsRest(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	kept, _ := random.Image(1000, 2)
	dropped, _ := random.Image(1000, 2)
	dk, err := s.WriteImage(ctx, kept, WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dd, err := s.WriteImage(ctx, dropped, WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetName("example.com/kept:1", dk); err != nil {
		t.Fatal(err)
	}
	if err := s.SetName("example.com/dropped:1", dd); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveName("example.com/dropped:1"); err != nil {
		t.Fatal(err)
	}
	// A temp file a killed gantry left behind.
	if err := os.WriteFile(filepath.Join(s.tmpDir(), "blob-123"), []byte("partial"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := s.Prune()
	if err != nil {
		t.Fatal(err)
	}
	if res.Blobs != 4 { // manifest, config, 2 layers
		t.Errorf("pruned %d blobs, want 4", res.Blobs)
	}
	if s.HasBlob(dd.Digest) {
		t.Error("unnamed manifest survived prune")
	}
	img, err := s.Image(dk.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(img); err != nil {
		t.Fatalf("named image damaged by prune: %v", err)
	}
	if tmp, _ := os.ReadDir(s.tmpDir()); len(tmp) != 0 {
		t.Errorf("prune left temp files: %v", tmp)
	}
	// The diff ID records go with their blobs; the kept ones stay.
	md, _ := dropped.Manifest()
	for _, l := range md.Layers {
		if _, ok := s.VerifiedDiffID(l.Digest); ok {
			t.Errorf("the record of pruned layer %s survived", l.Digest)
		}
	}
	mk, _ := kept.Manifest()
	if _, ok := s.VerifiedDiffID(mk.Layers[0].Digest); !ok {
		t.Error("prune dropped the record of a kept layer")
	}
}

func TestPruneKeepsExtraRootsAndDropsCaches(t *testing.T) {
	s := open(t)
	img, _ := random.Image(100, 1)
	d, err := s.WriteImage(context.Background(), img, WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cache := filepath.Join(s.Root(), "cache", "rootfs", "abc")
	os.MkdirAll(cache, 0o755)
	if _, err := s.Prune(d); err != nil {
		t.Fatal(err)
	}
	if !s.HasBlob(d.Digest) {
		t.Error("an image given to Prune as a root was pruned")
	}
	if _, err := os.Stat(cache); err == nil {
		t.Error("the unpacked-tree cache survived prune")
	}
	if _, err := s.Prune(); err != nil {
		t.Fatal(err)
	}
	if s.HasBlob(d.Digest) {
		t.Error("an unnamed image without a root survived prune")
	}
}

// A stored image's layers know their diff IDs from the config: asking for
// one must not decompress the layer (it did: a RUN after a 150 MB COPY spent
// half a second in gunzip to learn what the config says).
func TestStoredLayersTakeDiffIDsFromTheConfig(t *testing.T) {
	s := open(t)
	img, err := random.Image(1<<10, 2)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := s.WriteImage(context.Background(), img, WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Image(desc.Digest)
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	m, _ := img.Manifest()
	// Spoil the blobs: only reading them could now give another answer.
	for _, l := range m.Layers {
		if err := os.WriteFile(s.BlobPath(l.Digest), []byte("not gzip"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	layers, err := got.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range layers {
		d, err := l.DiffID()
		if err != nil || d != cf.RootFS.DiffIDs[i] {
			t.Errorf("layer %d: diff ID %v, %v; want %v from the config", i, d, err, cf.RootFS.DiffIDs[i])
		}
	}
}

// Prune removes every cache the store names (copy-trees and run-mounts
// were left behind when prune kept a list of its own).
func TestPruneRemovesEveryCache(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range allCaches {
		if err := os.MkdirAll(filepath.Join(s.CacheDir(k), "x"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Prune(); err != nil {
		t.Fatal(err)
	}
	for _, k := range allCaches {
		if _, err := os.Stat(s.CacheDir(k)); err == nil {
			t.Errorf("cache %s survived prune", k)
		}
	}
}

// The store holds image content (build secrets baked into layers, private
// base images): it is created readable by its owner only.
func TestStoreIsPrivate(t *testing.T) {
	root := filepath.Join(t.TempDir(), "new", "store")
	s, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	img, _ := random.Image(100, 1)
	d, err := s.WriteImage(context.Background(), img, WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetName("example.com/a:1", d); err != nil {
		t.Fatal(err)
	}
	unlock, err := s.Writing()
	if err != nil {
		t.Fatal(err)
	}
	unlock()
	if fi, err := os.Stat(root); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("store root mode %v, %v; want 0700", fi.Mode().Perm(), err)
	}
	filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s is %v: open to others", p, fi.Mode().Perm())
		}
		return nil
	})
}
