package rootfs

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/gantry-build/gantry/internal/treetest"
)

// The flattened root filesystem names a folder with a trailing "/", as
// docker export and BuildKit's tar exporter do, and keeps what the layers
// say of every entry; an upper layer's file hides what a lower layer had
// at its path and below.
func TestFlattenNamesFoldersAsDockerDoes(t *testing.T) {
	layerOf := func(hs ...*tar.Header) []byte {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		for _, h := range hs {
			tw.WriteHeader(h)
			if h.Typeflag == tar.TypeReg {
				tw.Write(make([]byte, h.Size))
			}
		}
		tw.Close()
		return buf.Bytes()
	}
	lower := layerOf(
		&tar.Header{Name: "app/", Typeflag: tar.TypeDir, Mode: 0o750, Uid: 7},
		&tar.Header{Name: "app/bin", Typeflag: tar.TypeReg, Mode: 0o755, Size: 3},
		&tar.Header{Name: "data/", Typeflag: tar.TypeDir, Mode: 0o755},
		&tar.Header{Name: "data/keep", Typeflag: tar.TypeReg, Mode: 0o644, Size: 1},
	)
	upper := layerOf(&tar.Header{Name: "data", Typeflag: tar.TypeReg, Mode: 0o600, Size: 2})
	img := empty.Image
	for _, raw := range [][]byte{lower, upper} {
		l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(raw)), nil })
		if err != nil {
			t.Fatal(err)
		}
		if img, err = mutate.AppendLayers(img, l); err != nil {
			t.Fatal(err)
		}
	}
	rc := Flatten(img)
	defer rc.Close()
	got := map[string]string{}
	treetest.EachInTar(t, rc, func(h *tar.Header, content []byte) {
		got[h.Name] = fmt.Sprintf("%c %o %d:%d %d", h.Typeflag, h.Mode, h.Uid, h.Gid, len(content))
	})
	want := map[string]string{"app/": "5 750 7:0 0", "app/bin": "0 755 0:0 3", "data": "0 600 0:0 2"}
	if len(got) != len(want) {
		t.Errorf("entries %v, want %v", got, want)
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s: %q, want %q (all: %v)", name, got[name], w, got)
		}
	}
}
