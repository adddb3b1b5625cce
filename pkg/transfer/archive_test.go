package transfer

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/gantry-build/gantry/pkg/archive"
	"github.com/gantry-build/gantry/pkg/registry"
)

// dockerID is the image ID Docker 20.10 gave testdata/hello-docker.tar.
const dockerID = "sha256:8ee17c0f98cb860638de97d52aa0f268dd5d7a0ebce81f22393744cf838161bb"

func TestLoadDockerArchiveKeepsImageID(t *testing.T) {
	st := newStore(t)
	ctx := context.Background()
	res, err := Load(ctx, st, "../../testdata/hello-docker.tar", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].ID.String() != dockerID {
		t.Fatalf("loaded %+v, want one image with ID %s", res, dockerID)
	}
	if got := strings.Join(res[0].Names, " "); got != "gantry-testdata/hello:1 gantry-testdata/hello:latest" {
		t.Errorf("names = %q", got)
	}
	e, err := Resolve(st, "gantry-testdata/hello:1")
	if err != nil {
		t.Fatal(err)
	}
	img, err := st.Image(e.Descriptor.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(img); err != nil {
		t.Fatalf("loaded image does not validate: %v", err)
	}

	// Loading again compresses nothing and gives the same manifest.
	again, err := Load(ctx, st, "../../testdata/hello-docker.tar", nil)
	if err != nil {
		t.Fatal(err)
	}
	if again[0].Manifest != res[0].Manifest {
		t.Errorf("second load made manifest %s, first %s", again[0].Manifest, res[0].Manifest)
	}

	// Save → load in a fresh store keeps the ID too, from stdin as well.
	var buf bytes.Buffer
	if err := Save(context.Background(), st, &buf, []string{"gantry-testdata/hello:1", "gantry-testdata/hello:latest"}, SaveOptions{SaveOptions: archive.SaveOptions{}}); err != nil {
		t.Fatal(err)
	}
	st2 := newStore(t)
	res2, err := LoadReader(ctx, st2, &buf, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res2) != 1 || res2[0].ID.String() != dockerID || len(res2[0].Names) != 2 {
		t.Fatalf("reloaded %+v", res2)
	}
	if res2[0].Manifest != res[0].Manifest {
		t.Errorf("save+load changed the manifest: %s, want %s (compression is not reproducible)", res2[0].Manifest, res[0].Manifest)
	}
}

func TestSaveCompressedLayersLoadsBack(t *testing.T) {
	st := newStore(t)
	ctx := context.Background()
	res, err := Load(ctx, st, "../../testdata/hello-docker.tar", nil)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Save(context.Background(), st, &buf, []string{"gantry-testdata/hello:1"}, SaveOptions{SaveOptions: archive.SaveOptions{CompressedLayers: true}}); err != nil {
		t.Fatal(err)
	}
	if buf.Len() > 1<<20 {
		t.Errorf("archive with compressed layers is %d bytes; the uncompressed layer alone is 1.5 MiB", buf.Len())
	}
	st2 := newStore(t)
	res2, err := LoadReader(ctx, st2, &buf, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res2) != 1 || res2[0].ID != res[0].ID || res2[0].Manifest != res[0].Manifest {
		t.Fatalf("reloaded %+v, want ID %s and manifest %s", res2, res[0].ID, res[0].Manifest)
	}
}

func TestLoadTruncatedArchiveFailsCleanly(t *testing.T) {
	raw, err := os.ReadFile("../../testdata/hello-docker.tar")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "cut.tar")
	if err := os.WriteFile(path, raw[:len(raw)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	st := newStore(t)
	_, err = Load(context.Background(), st, path, nil)
	if err == nil || !strings.Contains(err.Error(), "cut.tar") {
		t.Fatalf("err = %v, want an error naming the archive", err)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("error is not one line: %q", err)
	}
	entries, err := st.List()
	if err != nil || len(entries) != 0 {
		t.Fatalf("store after a failed load: %v, %v", entries, err)
	}
	tmp, _ := os.ReadDir(filepath.Join(st.Root(), "tmp"))
	if len(tmp) != 0 {
		t.Errorf("temp files left: %v", tmp)
	}
}

// Save pulls what the store lacks and writes the archive while the layers
// arrive: the archive equals a save of the stored image, and a pull that
// fails leaves no archive content, no blob under a bad digest and no name.
func TestSavePullsMissingImages(t *testing.T) {
	reg := newTestRegistry(t)
	img := randomImage(t, "amd64")
	reg.push(t, "app/img:1", img)
	ctx := context.Background()
	rc := fastClient(t, registry.Config{})
	ref := reg.host() + "/app/img:1"

	st := newStore(t)
	if err := Save(ctx, st, io.Discard, []string{ref}, SaveOptions{}); err == nil || !strings.Contains(err.Error(), "not in the local store") {
		t.Fatalf("save of a missing image without a registry: %v", err)
	}
	var pulled, stored bytes.Buffer
	if err := Save(ctx, st, &pulled, []string{ref}, SaveOptions{Registry: rc}); err != nil {
		t.Fatal(err)
	}
	if _, err := Resolve(st, ref); err != nil {
		t.Fatalf("the pulled image is not stored: %v", err)
	}
	if err := Save(ctx, st, &stored, []string{ref}, SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(pulled.Bytes(), stored.Bytes()) {
		t.Error("the archive written while pulling differs from a save of the stored image")
	}
	res, err := LoadReader(ctx, newStore(t), &pulled, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := img.ConfigName(); len(res) != 1 || res[0].ID != want {
		t.Errorf("loaded %+v, want image ID %s", res, want)
	}

	m, _ := img.Manifest()
	bad := m.Layers[1].Digest
	reg.hook = func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasSuffix(r.URL.Path, "/blobs/"+bad.String()) && r.Method == http.MethodGet {
			w.Write(make([]byte, m.Layers[1].Size))
			return true
		}
		return false
	}
	defer func() { reg.hook = nil }()
	st2 := newStore(t)
	err = Save(ctx, st2, io.Discard, []string{ref}, SaveOptions{Registry: rc})
	if err == nil || !strings.Contains(err.Error(), bad.String()) {
		t.Fatalf("save with a corrupt layer: %v, want it to name %s", err, bad)
	}
	if st2.HasBlob(bad) {
		t.Error("a corrupt blob was stored under its digest")
	}
	if _, err := st2.Get(ref); err == nil {
		t.Error("a failed pull named the image")
	}
}

// An image that lists one layer twice (an empty layer repeated, say) is
// pulled and saved in one go: the blob is fetched once and announced once.
func TestSavePullsImageWithRepeatedLayer(t *testing.T) {
	reg := newTestRegistry(t)
	l, err := random.Layer(1<<10, types.DockerLayer)
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, l, l)
	if err != nil {
		t.Fatal(err)
	}
	reg.push(t, "app/twice:1", img)
	reg.reset()
	ref := reg.host() + "/app/twice:1"
	var buf bytes.Buffer
	if err := Save(context.Background(), newStore(t), &buf, []string{ref}, SaveOptions{Registry: fastClient(t, registry.Config{})}); err != nil {
		t.Fatal(err)
	}
	d, _ := l.Digest()
	if got := reg.requests("GET /v2/app/twice/blobs/" + d.String()); len(got) != 1 {
		t.Errorf("the repeated layer was fetched %d times", len(got))
	}
	if _, err := LoadReader(context.Background(), newStore(t), &buf, nil); err != nil {
		t.Fatalf("the archive does not load back: %v", err)
	}
}
