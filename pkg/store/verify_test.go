package store

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
)

// lying is a random image whose config claims, for layer 0, the diff ID of
// other content; every blob still matches the manifest.
func lying(t *testing.T) v1.Image {
	t.Helper()
	img, err := random.Image(2048, 2)
	if err != nil {
		t.Fatal(err)
	}
	other, err := random.Layer(512, "")
	if err != nil {
		t.Fatal(err)
	}
	claim, _ := other.DiffID()
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.RootFS.DiffIDs[0] = claim
	out, err := mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// storeRaw writes every blob of img without any check, as a gantry from
// before diff IDs were verified did.
func storeRaw(t *testing.T, s *Store, img v1.Image) v1.Hash {
	t.Helper()
	layers, _ := img.Layers()
	for _, l := range layers {
		rc, _ := l.Compressed()
		d, _ := l.Digest()
		if err := s.WriteBlob(d, -1, rc); err != nil {
			t.Fatal(err)
		}
		rc.Close()
	}
	raw, _ := img.RawConfigFile()
	if _, err := s.WriteBlobBytes(raw); err != nil {
		t.Fatal(err)
	}
	rm, _ := img.RawManifest()
	h, err := s.WriteBlobBytes(rm)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// A lying image already in a store (written before the checks existed)
// cannot be unpacked: its layer fails at the end of its tar.
func TestStoredLayersAreCheckedWhenRead(t *testing.T) {
	s := open(t)
	h := storeRaw(t, s, lying(t))
	img, err := s.Image(h)
	if err != nil {
		t.Fatal(err)
	}
	layers, _ := img.Layers()
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.Copy(io.Discard, rc)
	rc.Close()
	if !errors.Is(err, ErrDiffIDMismatch) {
		t.Fatalf("reading a layer that is not its diff ID: %v", err)
	}
	// The honest layer reads fine.
	rc, _ = layers[1].Uncompressed()
	if _, err := io.Copy(io.Discard, rc); err != nil {
		t.Errorf("honest layer: %v", err)
	}
	rc.Close()
}

// Blobs stored without a record are read once before another image may
// claim them; verified ones get a record and are not read again.
func TestWriteImageChecksBlobsStoredWithoutARecord(t *testing.T) {
	s := open(t)
	evil := lying(t)
	storeRaw(t, s, evil)
	if _, err := s.WriteImage(context.Background(), evil, WriteOptions{}); !errors.Is(err, ErrDiffIDMismatch) {
		t.Fatalf("WriteImage over unrecorded lying blobs: %v", err)
	}
	m, _ := evil.Manifest()
	if _, ok := s.VerifiedDiffID(m.Layers[0].Digest); ok {
		t.Error("the lying blob got a record")
	}
	cf, _ := evil.ConfigFile()
	if got, ok := s.VerifiedDiffID(m.Layers[1].Digest); !ok || got != cf.RootFS.DiffIDs[1] {
		t.Errorf("the honest blob's record: %v %v", got, ok)
	}

	good, err := random.Image(1024, 2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.WriteImage(context.Background(), good, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	gm, _ := good.Manifest()
	gcf, _ := good.ConfigFile()
	for i, l := range gm.Layers {
		if got, ok := s.VerifiedDiffID(l.Digest); !ok || got != gcf.RootFS.DiffIDs[i] {
			t.Errorf("layer %d record: %v %v", i, got, ok)
		}
	}
}

// A compressed stream cut short, or corrupt, fails the uncompressed hash
// with the decompressor's error, whether it ends inside a buffer the hash
// is handed or at its edge.
func TestHashUncompressedFailsOnABrokenStream(t *testing.T) {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	payload := bytes.Repeat([]byte("layer bytes that compress\n"), 64<<10) // 1.6 MB: several of the hash's buffers
	zw.Write(payload)
	zw.Close()
	whole := gz.Bytes()
	h := sha256.New()
	if err := hashUncompressed(h, bytes.NewReader(whole)); err != nil {
		t.Fatalf("the whole stream: %v", err)
	}
	if got, want := h.Sum(nil), sha256.Sum256(payload); !bytes.Equal(got, want[:]) {
		t.Fatalf("the whole stream hashes to %x, want %x", got, want)
	}
	for _, cut := range []int{len(whole) / 3, len(whole) - 9, len(whole) - 1} {
		if err := hashUncompressed(sha256.New(), bytes.NewReader(whole[:cut])); err == nil {
			t.Errorf("a stream cut to %d of %d bytes hashed without an error", cut, len(whole))
		}
	}
	corrupt := bytes.Clone(whole)
	corrupt[len(corrupt)/2] ^= 0xff
	if err := hashUncompressed(sha256.New(), bytes.NewReader(corrupt)); err == nil {
		t.Error("a corrupt stream hashed without an error")
	}
}
