package archive

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"path"
	"testing"

	"github.com/google/go-containerregistry/pkg/compression"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/klauspost/compress/zstd"

	"github.com/gantry-build/gantry/internal/compress"
)

// A docker archive whose layer files are zstd (Docker 25+ saves blobs as
// they are stored) loads as an OCI image: Docker has no zstd media type,
// and Docker 20.10 refuses a Docker manifest with a zstd layer.
func TestDockerArchiveWithZstdLayersIsOCI(t *testing.T) {
	gz := layerTar(t, map[string]string{"a": "gzip layer"})
	zs := layerTar(t, map[string]string{"b": "zstd layer"})
	var zbuf bytes.Buffer
	zw, err := zstd.NewWriter(&zbuf)
	if err != nil {
		t.Fatal(err)
	}
	zw.Write(zs)
	zw.Close()
	config := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["` + sha(gz) + `","` + sha(zs) + `"]}}`)
	mj := `[{"Config":"config.json","RepoTags":["example.com/z:1"],"Layers":["a/layer.tar","b/layer.tar"]}]`
	arch := buildTar(t, reg("config.json", config), reg("a/layer.tar", gzipBytes(t, gz)), reg("b/layer.tar", zbuf.Bytes()), reg("manifest.json", []byte(mj)))
	_, loaded := openImages(t, writeTemp(t, "z.tar", arch))
	if len(loaded) != 1 {
		t.Fatalf("loaded %+v", loaded)
	}
	img := loaded[0].Image
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if mt, _ := img.MediaType(); mt != types.OCIManifestSchema1 || m.MediaType != types.OCIManifestSchema1 || m.Config.MediaType != types.OCIConfigJSON {
		t.Errorf("manifest %s (image says %s), config %s: want OCI", m.MediaType, mt, m.Config.MediaType)
	}
	if len(m.Layers) != 2 || m.Layers[0].MediaType != types.OCILayer || m.Layers[1].MediaType != types.OCILayerZStd {
		t.Errorf("layers %+v: want an OCI gzip layer and an OCI zstd one", m.Layers)
	}
	// validate reads layers as gzip only: Fast, and the content read here.
	if err := validate.Image(img, validate.Fast); err != nil {
		t.Errorf("the loaded image does not validate: %v", err)
	}
	layers, _ := img.Layers()
	for i, l := range layers {
		rc, err := l.Uncompressed()
		if err == nil {
			_, err = io.Copy(io.Discard, rc) // checks the diff ID
			rc.Close()
		}
		if err != nil {
			t.Errorf("layer %d: %v", i, err)
		}
	}

	// Without a zstd layer the manifest stays Docker's, as docker save's is.
	mj = `[{"Config":"config.json","RepoTags":["example.com/g:1"],"Layers":["a/layer.tar"]}]`
	config = []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["` + sha(gz) + `"]}}`)
	arch = buildTar(t, reg("config.json", config), reg("a/layer.tar", gzipBytes(t, gz)), reg("manifest.json", []byte(mj)))
	_, loaded = openImages(t, writeTemp(t, "g.tar", arch))
	if mt, _ := loaded[0].Image.MediaType(); mt != types.DockerManifestSchema2 {
		t.Errorf("a gzip-only docker archive loaded as %s", mt)
	}
}

// docker save --compressed-layers keeps gzip layers as they are stored,
// but not zstd ones: docker load before Docker 23 reads a zstd layer.tar
// as a plain tar and fails. A zstd layer is saved uncompressed.
func TestCompressedDockerSaveUnpacksZstd(t *testing.T) {
	content := layerTar(t, map[string]string{"z": "zstd layer"})
	zl, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(content)), nil },
		tarball.WithCompression(compression.ZStd), tarball.WithMediaType(types.OCILayerZStd))
	if err != nil {
		t.Fatal(err)
	}
	gl, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar(t, map[string]string{"g": "gzip layer"}))), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.Append(mutate.MediaType(empty.Image, types.OCIManifestSchema1), mutate.Addendum{Layer: gl}, mutate.Addendum{Layer: zl})
	if err != nil {
		t.Fatal(err)
	}
	p := saveFile(t, []Item{{Image: img, Names: []name.Tag{mustTag(t, "example.com/z:1")}}}, SaveOptions{Format: "docker", CompressedLayers: true})
	files := tarMap(t, p)
	var mj []struct{ Layers []string }
	if err := json.Unmarshal(files["manifest.json"].body, &mj); err != nil || len(mj) != 1 || len(mj[0].Layers) != 2 {
		t.Fatalf("manifest.json: %s %v", files["manifest.json"].body, err)
	}
	for i, want := range []compress.Kind{compress.Gzip, compress.None} {
		f := files[mj[0].Layers[i]]
		if f.hdr != nil && f.hdr.Typeflag == tar.TypeSymlink {
			f = files[path.Join(path.Dir(mj[0].Layers[i]), f.hdr.Linkname)]
		}
		if got := compress.Sniff(f.body); got != want {
			t.Errorf("layer %d is saved %v, want %v", i, got, want)
		}
	}
	if got := uncompressedDigests(t, openLoaded(t, p)); got[1] != sha(content) {
		t.Errorf("the zstd layer saved as %s, its content is %s", got[1], sha(content))
	}
}

func openLoaded(t *testing.T, p string) v1.Image {
	t.Helper()
	_, loaded := openImages(t, p)
	if len(loaded) != 1 {
		t.Fatalf("loaded %+v", loaded)
	}
	return loaded[0].Image
}
