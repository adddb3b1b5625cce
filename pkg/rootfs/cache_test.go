//go:build linux || darwin

package rootfs

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func tarLayer(t *testing.T, r *bytes.Reader) v1.Layer {
	t.Helper()
	b, _ := io.ReadAll(r)
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestCacheUnpacksEachChainOnce(t *testing.T) {
	l1 := tarLayer(t, layerTar(t, ent{name: "a", body: "1"}, ent{name: "b", body: "2"}))
	l2 := tarLayer(t, layerTar(t, ent{name: ".wh.a"}, ent{name: "c", body: "3"}))
	base, _ := mutate.AppendLayers(empty.Image, l1)
	child, _ := mutate.AppendLayers(base, l2)
	c := NewCache(t.TempDir())

	dBase, err := c.Get(base)
	if err != nil {
		t.Fatal(err)
	}
	dChild, err := c.Get(child)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dBase, "a")); err != nil {
		t.Error("the base's cached tree lost a: the child's whiteout reached it")
	}
	if _, err := os.Stat(filepath.Join(dChild, "a")); err == nil {
		t.Error("the child still has a")
	}
	if b, _ := os.ReadFile(filepath.Join(dChild, "c")); string(b) != "3" {
		t.Errorf("child c = %q", b)
	}
	// Unchanged: the same directory, nothing unpacked (the marker survives).
	os.WriteFile(filepath.Join(dChild, ".marker"), nil, 0o644)
	again, err := c.Get(child)
	if err != nil || again != dChild {
		t.Fatalf("second Get = %s, %v", again, err)
	}
	if _, err := os.Stat(filepath.Join(again, ".marker")); err != nil {
		t.Error("the cached tree was unpacked again")
	}
}
