package store

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// A layer left in its registry stays there when an image built on it is
// stored (a cached step, then the build's result): nothing is fetched until
// its bytes are read, and then once.
func TestLazyLayersStayLeftWhenImagesOnThemAreStored(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	base, err := random.Image(512, 2)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := name.ParseReference("registry.example/base:1")
	layers, _ := base.Layers()
	byDigest := map[v1.Hash]v1.Layer{}
	var remoteLike []mutate.Addendum
	for _, l := range layers {
		d, _ := l.Digest()
		byDigest[d] = l
		remoteLike = append(remoteLike, mutate.Addendum{Layer: &remote.MountableLayer{Layer: l, Reference: ref}})
	}
	fromRegistry, err := mutate.Append(mutate.MediaType(mutate.ConfigMediaType(base, "application/vnd.docker.container.image.v1+json"), "application/vnd.docker.distribution.manifest.v2+json"), remoteLike...)
	if err != nil {
		t.Fatal(err)
	}
	fetched := 0
	s.SetFetcher(ctx, func(ctx context.Context, repo string, d v1.Descriptor) (v1.Layer, error) {
		fetched++
		return byDigest[d.Digest], nil
	})
	desc, err := s.WriteImage(ctx, fromRegistry, WriteOptions{Lazy: true})
	if err != nil {
		t.Fatal(err)
	}
	stored, err := s.Image(desc.Digest)
	if err != nil {
		t.Fatal(err)
	}
	top, _ := random.Layer(256, "application/vnd.docker.image.rootfs.diff.tar.gzip")
	built, err := mutate.AppendLayers(stored, top)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.WriteImage(ctx, built, WriteOptions{Lazy: true}); err != nil {
		t.Fatal(err)
	}
	if fetched != 0 {
		t.Errorf("storing an image on lazily kept layers fetched %d of them", fetched)
	}
	for d := range byDigest {
		if s.HasBlob(d) {
			t.Errorf("layer %s came into the store", d)
		}
	}
	// Its bytes, when read, come from the registry once.
	l, _ := stored.Layers()
	rc, err := l[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, rc)
	rc.Close()
	if fetched != 1 {
		t.Errorf("reading a lazily kept layer fetched %d times, want 1", fetched)
	}
}

// A lazily kept layer's fetch runs under the context the fetcher was given
// (the command's): an interrupt stops a download under way instead of
// leaving it to finish.
func TestLazyFetchStopsWithTheCommand(t *testing.T) {
	s := open(t)
	base, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := name.ParseReference("registry.example/base:1")
	layers, _ := base.Layers()
	fromRegistry, err := mutate.Append(mutate.MediaType(mutate.ConfigMediaType(base, "application/vnd.docker.container.image.v1+json"), "application/vnd.docker.distribution.manifest.v2+json"),
		mutate.Addendum{Layer: &remote.MountableLayer{Layer: layers[0], Reference: ref}})
	if err != nil {
		t.Fatal(err)
	}
	cmd, interrupt := context.WithCancel(context.Background())
	s.SetFetcher(cmd, func(ctx context.Context, repo string, d v1.Descriptor) (v1.Layer, error) {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(5 * time.Second):
			return nil, errors.New("the fetch went on after the command was interrupted")
		}
	})
	desc, err := s.WriteImage(context.Background(), fromRegistry, WriteOptions{Lazy: true})
	if err != nil {
		t.Fatal(err)
	}
	stored, err := s.Image(desc.Digest)
	if err != nil {
		t.Fatal(err)
	}
	interrupt()
	l, _ := stored.Layers()
	_, err = l[len(l)-1].Uncompressed()
	if !errors.Is(err, context.Canceled) {
		t.Errorf("reading the layer after an interrupt: %v, want context.Canceled", err)
	}
}
