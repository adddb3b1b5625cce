package store

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// A layer the store keeps lazily stays lazy when a new image made on the
// stored one is written lazily too (a cached step on a cached step): it is
// fetched only when its bytes are needed, never to be written again.
func TestLazyLayerStaysLazyInANewImage(t *testing.T) {
	srv := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	base, _ := random.Image(1024, 2)
	ref, _ := name.ParseReference(strings.TrimPrefix(srv.URL, "http://")+"/lib/base:1", name.Insecure)
	if err := remote.Write(ref, base); err != nil {
		t.Fatal(err)
	}
	remoteBase, err := remote.Image(ref)
	if err != nil {
		t.Fatal(err)
	}
	s := open(t)
	fetches := 0
	s.SetFetcher(func(ctx context.Context, repo string, d v1.Descriptor) (v1.Layer, error) {
		fetches++
		l, err := remoteBase.LayerByDigest(d.Digest)
		return l, err
	})
	ctx := context.Background()
	desc, err := s.WriteImage(ctx, remoteBase, WriteOptions{Lazy: true})
	if err != nil {
		t.Fatal(err)
	}
	stored, err := s.Image(desc.Digest)
	if err != nil {
		t.Fatal(err)
	}
	added, _ := random.Layer(512, "application/vnd.docker.image.rootfs.diff.tar.gzip")
	next, err := mutate.AppendLayers(stored, added)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.WriteImage(ctx, next, WriteOptions{Lazy: true}); err != nil {
		t.Fatal(err)
	}
	if fetches != 0 {
		t.Errorf("the lazily kept layers were fetched %d times to store an image made on them", fetches)
	}
	// Without Lazy, the new image is made whole: they come down, checked.
	if _, err := s.WriteImage(ctx, next, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if fetches != 2 {
		t.Errorf("a whole write fetched %d layers, want the 2 lazy ones", fetches)
	}
}
