package transfer

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/gantry-build/gantry/pkg/archive"
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
	if err := Save(st, &buf, []string{"gantry-testdata/hello:1", "gantry-testdata/hello:latest"}, archive.SaveOptions{}); err != nil {
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
	if err := Save(st, &buf, []string{"gantry-testdata/hello:1"}, archive.SaveOptions{CompressedLayers: true}); err != nil {
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
