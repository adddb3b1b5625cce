package flagbuild

import (
	"context"
	"io"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/gantry-build/gantry/pkg/layer"
)

// checkMediaTypes fails unless img's manifest has media type mt, config
// media type cfg and layers of the media types given.
func checkMediaTypes(t *testing.T, what string, img v1.Image, mt, cfg types.MediaType, layers ...types.MediaType) {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	got := []types.MediaType{m.MediaType, m.Config.MediaType}
	for _, l := range m.Layers {
		got = append(got, l.MediaType)
	}
	want := append([]types.MediaType{mt, cfg}, layers...)
	if len(got) != len(want) {
		t.Fatalf("%s: media types %v, want %v", what, got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s: media types %v, want %v", what, got, want)
		}
	}
	if imt, _ := img.MediaType(); imt != mt {
		t.Errorf("%s: the image says %s, its manifest %s", what, imt, mt)
	}
	if err := validate.Image(img, validate.Fast); err != nil { // validate reads layers as gzip only
		t.Errorf("%s: %v", what, err)
	}
}

// Docker has no zstd media type: a zstd layer on a Docker schema 2 base
// (scratch is one, as BuildKit's is) makes the image OCI; a gzip layer
// leaves it Docker's.
func TestZstdLayersMakeOCIManifests(t *testing.T) {
	st, rc, src := setup(t)
	ctx := context.Background()
	o := Options{From: "scratch", Adds: []layer.Add{{Src: src, Dest: "/usr/local/bin/"}}, Created: time.Unix(1700000000, 0).UTC()}
	res, err := FromFlags(ctx, st, rc, o)
	if err != nil {
		t.Fatal(err)
	}
	checkMediaTypes(t, "build gzip", res.Image, types.DockerManifestSchema2, types.DockerConfigJSON, types.DockerLayer)
	o.Compression = layer.Zstd
	res, err = FromFlags(ctx, st, rc, o)
	if err != nil {
		t.Fatal(err)
	}
	checkMediaTypes(t, "build zstd", res.Image, types.OCIManifestSchema1, types.OCIConfigJSON, types.OCILayerZStd)

	img, err := Import(ctx, st, ImportOptions{Source: src, Compression: layer.Zstd, Created: o.Created})
	if err != nil {
		t.Fatal(err)
	}
	checkMediaTypes(t, "import zstd", img, types.OCIManifestSchema1, types.OCIConfigJSON, types.OCILayerZStd)
	l, _ := img.Layers()
	if rc, err := l[0].Uncompressed(); err != nil {
		t.Error(err)
	} else if _, err := io.Copy(io.Discard, rc); err != nil {
		t.Error(err)
	}
}
