package transfer

import (
	"context"
	"io"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/gantry-build/gantry/pkg/archive"
	"github.com/gantry-build/gantry/pkg/registry"
)

// BenchmarkPull pulls a 3 × 8 MiB image from an in-memory registry into an
// empty store: what gantry adds to the transfer (hashing, writing blobs).
func BenchmarkPull(b *testing.B) {
	rc, ref := benchRegistry(b)
	b.SetBytes(3 * 8 << 20)
	for b.Loop() {
		if _, err := Pull(context.Background(), newStore(b), rc, ref, PullOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSavePulling writes a docker archive with gzip layers of an image
// the store lacks, pulling it as the archive is written.
func BenchmarkSavePulling(b *testing.B) {
	rc, ref := benchRegistry(b)
	b.SetBytes(3 * 8 << 20)
	for b.Loop() {
		opts := SaveOptions{SaveOptions: archive.SaveOptions{CompressedLayers: true}, Registry: rc}
		if err := Save(context.Background(), newStore(b), io.Discard, []string{ref}, opts); err != nil {
			b.Fatal(err)
		}
	}
}

func benchRegistry(b *testing.B) (*registry.Client, string) {
	reg := newTestRegistry(b)
	img, err := random.Image(8<<20, 3)
	if err != nil {
		b.Fatal(err)
	}
	reg.push(b, "bench/img:1", img)
	return fastClient(b, registry.Config{}), reg.host() + "/bench/img:1"
}
