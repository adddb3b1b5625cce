package flagbuild

import (
	"archive/tar"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/gantry-build/gantry/internal/testenv"
	"github.com/gantry-build/gantry/pkg/archive"
	"github.com/gantry-build/gantry/pkg/config"
	"github.com/gantry-build/gantry/pkg/layer"
	"github.com/gantry-build/gantry/pkg/publish"
	"github.com/gantry-build/gantry/pkg/registry"
	"github.com/gantry-build/gantry/pkg/store"
)

func setup(t *testing.T) (*store.Store, *registry.Client, string) {
	t.Helper()
	st, rc := testenv.Store(t), testenv.Client(t)
	src := filepath.Join(t.TempDir(), "bin")
	os.MkdirAll(src, 0o755)
	os.WriteFile(filepath.Join(src, "tool"), []byte("#!/bin/sh\necho tool\n"), 0o755)
	return st, rc, src
}

func str(s string) *string { return &s }

func TestScratchBuildOutputs(t *testing.T) {
	st, rc, src := setup(t)
	ctx := context.Background()
	o := Options{
		From: "scratch", Adds: []layer.Add{{Src: src, Dest: "/usr/local/bin/"}},
		Edits:     config.Edits{Entrypoint: str(`["/usr/local/bin/tool"]`)},
		Platforms: []v1.Platform{{OS: "linux", Architecture: "arm64", Variant: "v8"}},
		Created:   time.Unix(1700000000, 0).UTC(),
	}
	res, err := FromFlags(ctx, st, rc, o)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(res.Image); err != nil {
		t.Fatalf("built image does not validate: %v", err)
	}
	cf, _ := res.Image.ConfigFile()
	if cf.Architecture != "arm64" || cf.Created.Unix() != 1700000000 || cf.Config.Entrypoint[0] != "/usr/local/bin/tool" || len(cf.RootFS.DiffIDs) != 1 {
		t.Errorf("config = %+v", cf)
	}
	again, err := FromFlags(ctx, st, rc, o)
	if err != nil {
		t.Fatal(err)
	}
	d1, _ := res.Image.Digest()
	d2, _ := again.Image.Digest()
	if d1 != d2 || !again.Cached {
		t.Errorf("rebuild digest %s (cached %v), first %s", d2, again.Cached, d1)
	}

	dir := t.TempDir()
	targets := publish.Targets{Names: []string{"example.com/tool:1"}, Outputs: []publish.Output{
		{Type: "docker", Dest: filepath.Join(dir, "tool.tar")},
		{Type: "oci", Dest: filepath.Join(dir, "layout")},
		{Type: "oci", Dest: filepath.Join(dir, "oci.tar")},
	}}
	if err := targets.Validate(); err != nil {
		t.Fatal(err)
	}
	ds, err := publish.Deliver(ctx, st, rc, res.Artifact, targets, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 4 {
		t.Errorf("delivered %+v", ds)
	}
	a, err := archive.Open(filepath.Join(dir, "tool.tar"))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	loaded, err := a.Images()
	if err != nil || len(loaded) != 1 || len(loaded[0].Names) != 1 {
		t.Fatalf("docker output: %+v %v", loaded, err)
	}
	if id, _ := loaded[0].Image.ConfigName(); func() bool { c, _ := res.Image.ConfigName(); return c != id }() {
		t.Error("docker output has another config")
	}
	p, err := layout.FromPath(filepath.Join(dir, "layout"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Image(d1); err != nil {
		t.Errorf("OCI layout output: %v", err)
	}
	if e, err := st.Get("example.com/tool:1"); err != nil || e.Descriptor.Digest != d1 {
		t.Errorf("stored %+v %v", e, err)
	}
}

func TestMultiPlatformBuildSharesTheLayer(t *testing.T) {
	st, rc, src := setup(t)
	res, err := FromFlags(context.Background(), st, rc, Options{
		From: "scratch", Adds: []layer.Add{{Src: src, Dest: "/bin/"}},
		Platforms: []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64", Variant: "v8"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Index == nil {
		t.Fatal("two platforms did not make an index")
	}
	if err := validate.Index(res.Index); err != nil {
		t.Fatal(err)
	}
	im, _ := res.Index.IndexManifest()
	if len(im.Manifests) != 2 || im.Manifests[1].Platform.Architecture != "arm64" {
		t.Fatalf("index %+v", im)
	}
	var layers []v1.Hash
	for _, d := range im.Manifests {
		img, _ := res.Index.Image(d.Digest)
		m, _ := img.Manifest()
		layers = append(layers, m.Layers[0].Digest)
	}
	if layers[0] != layers[1] {
		t.Errorf("the new layer differs per platform: %v", layers)
	}
	dir := t.TempDir()
	if _, err := publish.Deliver(context.Background(), st, rc, res.Artifact, publish.Targets{Names: []string{"example.com/multi:1"}, Outputs: []publish.Output{{Type: "docker", Dest: filepath.Join(dir, "m.tar")}}}, nil); err != nil {
		t.Fatal(err)
	}
	e, err := st.Get("example.com/multi:1")
	if err != nil || !e.IsIndex() {
		t.Fatalf("stored %+v %v", e, err)
	}
}

func TestBuildErrorsStoreNothing(t *testing.T) {
	st, rc, src := setup(t)
	_, err := FromFlags(context.Background(), st, rc, Options{From: "scratch", Adds: []layer.Add{{Src: src, Dest: "/x/"}}, Edits: config.Edits{Ports: []string{"nope"}}})
	if err == nil || !strings.Contains(err.Error(), "invalid --port") {
		t.Fatalf("err = %v", err)
	}
	entries, _ := os.ReadDir(filepath.Join(st.Root(), "blobs", "sha256"))
	if len(entries) != 0 {
		t.Errorf("a build with a bad flag stored %d blobs", len(entries))
	}
}

// $TARGETARCH in an --add source picks each platform's own file: one build
// of two platforms adds each its binary.
func TestAddSourcePerPlatform(t *testing.T) {
	st, rc, _ := setup(t)
	bins := t.TempDir()
	for _, arch := range []string{"amd64", "arm64"} {
		os.MkdirAll(filepath.Join(bins, arch), 0o755)
		os.WriteFile(filepath.Join(bins, arch, "app"), []byte("binary for "+arch), 0o755)
	}
	res, err := FromFlags(context.Background(), st, rc, Options{
		From: "scratch", Adds: []layer.Add{{Src: filepath.Join(bins, "${TARGETARCH}", "app"), Dest: "/app"}},
		Platforms: []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	im, _ := res.Index.IndexManifest()
	for _, d := range im.Manifests {
		img, _ := res.Index.Image(d.Digest)
		tr := tar.NewReader(mutate.Extract(img))
		for h, err := tr.Next(); err == nil; h, err = tr.Next() {
			if h.Name == "app" {
				b, _ := io.ReadAll(tr)
				if want := "binary for " + d.Platform.Architecture; string(b) != want {
					t.Errorf("%s: /app holds %q, want %q", d.Platform.Architecture, b, want)
				}
			}
		}
	}
}

// A relative --add destination starts at the image's WORKDIR (--workdir's
// when given): those sources are listed after the base is known. Without a
// WORKDIR it is refused.
func TestRelativeAddFollowsWorkdir(t *testing.T) {
	st, rc, src := setup(t)
	res, err := FromFlags(context.Background(), st, rc, Options{
		From: "scratch", Adds: []layer.Add{{Src: src, Dest: "app/"}},
		Edits: config.Edits{Workdir: str("/srv")},
	})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	tr := tar.NewReader(mutate.Extract(res.Image))
	for h, err := tr.Next(); err == nil; h, err = tr.Next() {
		found = found || h.Name == "srv/app/tool"
	}
	if !found {
		t.Error("srv/app/tool is not in the image")
	}
	_, err = FromFlags(context.Background(), st, rc, Options{From: "scratch", Adds: []layer.Add{{Src: src, Dest: "app/"}}})
	if err == nil || !strings.Contains(err.Error(), "absolute") {
		t.Errorf("relative destination without WORKDIR: %v", err)
	}
}
