package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// pushedMediaTypes are the media types of a pushed manifest: its own, its
// config's, its layers'.
func pushedMediaTypes(t *testing.T, ref string) []string {
	t.Helper()
	raw := sh(t, "skopeo", "inspect", "--raw", "--tls-verify=false", "docker://"+ref)
	var m struct {
		MediaType string
		Config    struct{ MediaType string }
		Layers    []struct{ MediaType string }
	}
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		t.Fatalf("%s: %v\n%s", ref, err, raw)
	}
	out := []string{m.MediaType, m.Config.MediaType}
	for _, l := range m.Layers {
		out = append(out, l.MediaType)
	}
	return out
}

// --compression zstd on a Docker schema 2 base (the e2e base is one, made
// by docker import and docker push) pushes an OCI manifest whose new layer
// says zstd: Docker has no zstd media type, and Docker 20.10 refuses a
// Docker manifest with a zstd layer. Both ways a layer is added on a base: a build, and a working container's
// commit.
func TestZstdOnDockerBasePushesOCI(t *testing.T) {
	if mt := pushedMediaTypes(t, baseRef("amd64")); mt[0] != "application/vnd.docker.distribution.manifest.v2+json" {
		t.Fatalf("the base is %v, not the Docker schema 2 image this test is about", mt)
	}
	want := "application/vnd.oci.image.manifest.v1+json application/vnd.oci.image.config.v1+json " +
		"application/vnd.oci.image.layer.v1.tar+gzip application/vnd.oci.image.layer.v1.tar+zstd"
	e := newEnv(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM "+baseRef("amd64")+"\nRUN echo zstd-built > /z\nCMD [\"/bin/cat\", \"/z\"]\n"), 0o644)
	built := uniqueRepo("zstdbuild") + ":1"
	e.gantry("build", dir, "--compression", "zstd", "-t", built, "--push")
	if got := strings.Join(pushedMediaTypes(t, built), " "); got != want {
		t.Errorf("build: pushed %s\nwant %s", got, want)
	}

	c := strings.TrimSpace(e.gantry("from", baseRef("amd64"), "--name", "zstd"))
	e.gantry("run", "--network", "none", c, "--", "/bin/sh", "-c", "echo zstd-committed > /z")
	committed := uniqueRepo("zstdcommit") + ":1"
	e.gantry("commit", c, committed, "--compression", "zstd", "--change", `CMD ["/bin/cat", "/z"]`, "--push")
	if got := strings.Join(pushedMediaTypes(t, committed), " "); got != want {
		t.Errorf("commit: pushed %s\nwant %s", got, want)
	}

	// Docker 20.10 cannot unpack zstd layers (it pulls the manifest, then
	// reads the layer as a plain tar): zstd(1), the reference decoder,
	// reads the pushed layer, and it holds the step's file.
	for ref, says := range map[string]string{built: "zstd-built\n", committed: "zstd-committed\n"} {
		dir := filepath.Join(t.TempDir(), "image")
		sh(t, "skopeo", "copy", "-q", "--src-tls-verify=false", "docker://"+ref, "dir:"+dir)
		var m struct{ Layers []struct{ Digest string } }
		b, _ := os.ReadFile(filepath.Join(dir, "manifest.json"))
		if err := json.Unmarshal(b, &m); err != nil || len(m.Layers) != 2 {
			t.Fatalf("%s: manifest %s: %v", ref, b, err)
		}
		blob := filepath.Join(dir, strings.TrimPrefix(m.Layers[1].Digest, "sha256:"))
		tarball := filepath.Join(t.TempDir(), "layer.tar")
		sh(t, "zstd", "-q", "-d", blob, "-o", tarball)
		if got := sh(t, "tar", "-xOf", tarball, "z"); got != says {
			t.Errorf("%s: the zstd layer's /z is %q, want %q", ref, got, says)
		}
	}
}
