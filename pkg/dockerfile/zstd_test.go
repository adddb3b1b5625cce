package dockerfile

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/gantry-build/gantry/internal/testenv"
	"github.com/gantry-build/gantry/pkg/images"
	"github.com/gantry-build/gantry/pkg/store"
)

// A build with --compression zstd on a Docker schema 2 base (the usual
// pulled image) makes an OCI image, its base layers' media types made OCI
// too, as BuildKit converts it: Docker has no zstd media type, and Docker
// 20.10 refuses a Docker manifest with a zstd layer.
func TestZstdBuildOnDockerBaseIsOCI(t *testing.T) {
	st, rc := testenv.Store(t), testenv.Client(t)
	ctx := context.Background()
	scratch, err := images.Scratch(nil)
	if err != nil {
		t.Fatal(err)
	}
	l, err := random.Layer(512, types.DockerLayer)
	if err != nil {
		t.Fatal(err)
	}
	base, err := mutate.Append(scratch, mutate.Addendum{Layer: l, MediaType: types.DockerLayer})
	if err != nil {
		t.Fatal(err)
	}
	desc, err := st.WriteImage(ctx, base, store.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SetName("example.com/base:1", desc); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	mkTree(t, dir, map[string]string{"f": "f"}, nil)
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM example.com/base:1\nCOPY f /f\n"), 0o644)
	for _, c := range []struct {
		compression string
		want        []types.MediaType
	}{
		{"gzip", []types.MediaType{types.DockerManifestSchema2, types.DockerConfigJSON, types.DockerLayer, types.DockerLayer}},
		{"zstd", []types.MediaType{types.OCIManifestSchema1, types.OCIConfigJSON, types.OCILayer, types.OCILayerZStd}},
	} {
		res, err := FromDockerfile(ctx, st, rc, DockerfileOptions{Context: dir, Compression: c.compression})
		if err != nil {
			t.Fatal(err)
		}
		m, err := res.Image.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		got := []types.MediaType{m.MediaType, m.Config.MediaType}
		for _, l := range m.Layers {
			got = append(got, l.MediaType)
		}
		if len(got) != len(c.want) {
			t.Fatalf("%s: media types %v, want %v", c.compression, got, c.want)
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Fatalf("%s: media types %v, want %v", c.compression, got, c.want)
			}
		}
		if err := validate.Image(res.Image, validate.Fast); err != nil { // validate reads layers as gzip only
			t.Errorf("%s: %v", c.compression, err)
		}
		// The base layer is the same blob, only its media type says OCI.
		if d, _ := l.Digest(); m.Layers[0].Digest != d {
			t.Errorf("%s: the base layer is %s, was %s", c.compression, m.Layers[0].Digest, d)
		}
	}
}
