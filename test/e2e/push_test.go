package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// uniqueRepo names a repository no other run used.
func uniqueRepo(prefix string) string {
	return fmt.Sprintf("%s/e2e/%s-%d", registry, prefix, time.Now().UnixNano())
}

// skipReasons parses --progress json events into id → skip reason.
func skipReasons(t *testing.T, stderr string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
		var ev struct{ Event, ID, Reason string }
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("progress line is not JSON: %q", line)
		}
		if ev.Event == "skip" {
			out[ev.ID] = ev.Reason
		}
	}
	return out
}

// Pushing to a new repository of the same registry mounts; pushing again
// skips; Docker and skopeo read the result.
func TestPushMountsSkipsAndDockerRuns(t *testing.T) {
	e := newEnv(t)
	e.gantry("pull", baseRef("amd64"))
	dest := uniqueRepo("pushed") + ":1"
	out, stderr, err := e.run(nil, "--progress", "json", "push", baseRef("amd64"), dest)
	if err != nil {
		t.Fatalf("push: %v\n%s", err, stderr)
	}
	skips := skipReasons(t, stderr)
	mounted := 0
	for _, r := range skips {
		if r == "mounted from e2e/busybox" {
			mounted++
		}
	}
	if mounted == 0 {
		t.Errorf("no blob was mounted from e2e/busybox; skips: %v", skips)
	}
	digest := field(out, "Digest")
	if got := strings.TrimSpace(sh(t, "skopeo", "inspect", "--tls-verify=false", "--format", "{{.Digest}}", "docker://"+dest)); got != digest {
		t.Errorf("skopeo sees %s, gantry pushed %s", got, digest)
	}

	_, stderr, err = e.run(nil, "--progress", "json", "push", baseRef("amd64"), dest)
	if err != nil {
		t.Fatal(err)
	}
	for id, r := range skipReasons(t, stderr) {
		if r != "exists" {
			t.Errorf("second push: %s skipped as %q, want exists", id, r)
		}
	}

	sh(t, "docker", "pull", dest)
	t.Cleanup(func() { shErr("docker", "rmi", "-f", dest) })
	if got := sh(t, "docker", "run", "--rm", "--network", "none", dest, "echo", "pushed"); strings.TrimSpace(got) != "pushed" {
		t.Errorf("docker run of the pushed image printed %q", got)
	}
}

// docker save output — every layout — is loaded by gantry and pushed.
func TestDockerSaveLoadPush(t *testing.T) {
	e := newEnv(t)
	sh(t, "docker", "pull", baseRef("amd64"))
	t1, t2 := "gantry-e2e/saved:1", "gantry-e2e/saved:2"
	sh(t, "docker", "tag", baseRef("amd64"), t1)
	sh(t, "docker", "tag", baseRef("amd64"), t2)
	t.Cleanup(func() { shErr("docker", "rmi", t1, t2) })
	id := strings.TrimSpace(sh(t, "docker", "inspect", "-f", "{{.Id}}", t1))
	dir := t.TempDir()
	archive := filepath.Join(dir, "saved.tar")
	sh(t, "docker", "save", "-o", archive, t1, t2)

	out := e.gantry("load", "-i", archive)
	if !strings.Contains(out, "Loaded image: "+t1) || !strings.Contains(out, "Loaded image: "+t2) {
		t.Fatalf("load output:\n%s", out)
	}
	if got := field(e.gantry("inspect", t1), "ID"); got != id {
		t.Errorf("loaded image ID %s, docker's %s", got, id)
	}
	dest := uniqueRepo("loaded") + ":1"
	e.gantry("push", t1, dest)
	sh(t, "docker", "pull", dest)
	t.Cleanup(func() { shErr("docker", "rmi", "-f", dest) })
	if got := sh(t, "docker", "run", "--rm", "--network", "none", dest, "echo", "loaded"); strings.TrimSpace(got) != "loaded" {
		t.Errorf("docker run printed %q", got)
	}

	// The pre-1.10 layout: the same archive without manifest.json.
	legacy := filepath.Join(dir, "legacy.tar")
	x := filepath.Join(dir, "x")
	os.MkdirAll(x, 0o755)
	sh(t, "tar", "-C", x, "-xf", archive)
	os.Remove(filepath.Join(x, "manifest.json"))
	sh(t, "tar", "-C", x, "-cf", legacy, ".")
	e2 := newEnv(t)
	out = e2.gantry("load", "-i", legacy)
	if !strings.Contains(out, "Loaded image: "+t1) {
		t.Fatalf("legacy load output:\n%s", out)
	}
	legacyOut := filepath.Join(dir, "legacy-resaved.tar")
	e2.gantry("save", t1, "-o", legacyOut)
	sh(t, "docker", "load", "-i", legacyOut)
	if got := sh(t, "docker", "run", "--rm", "--network", "none", t1, "echo", "legacy"); strings.TrimSpace(got) != "legacy" {
		t.Errorf("docker run of the legacy-loaded image printed %q", got)
	}

	// gzip-compressed, from stdin.
	gz := filepath.Join(dir, "saved.tar.gz")
	if err := exec.Command("sh", "-c", "gzip -c "+archive+" > "+gz).Run(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(gz)
	if err != nil {
		t.Fatal(err)
	}
	e3 := newEnv(t)
	stdout, stderr, err := e3.run(data, "load")
	if err != nil || !strings.Contains(stdout, "Loaded image: "+t1) {
		t.Fatalf("load from stdin of a .gz: %v\n%s%s", err, stdout, stderr)
	}
}

// A multi-platform image made by docker manifest is pulled per platform,
// kept whole, saved for docker/skopeo, and pushed whole.
func TestMultiPlatform(t *testing.T) {
	e := newEnv(t)
	e.gantry("pull", "--platform", "linux/arm64", baseRef("multi"))
	if got := field(e.gantry("inspect", baseRef("multi")), "Platform"); got != "linux/arm64" {
		t.Errorf("pulled --platform linux/arm64, inspect says %q", got)
	}
	msg := e.gantryFails("pull", "--platform", "linux/s390x", baseRef("multi"))
	if !strings.Contains(msg, "linux/amd64") || !strings.Contains(msg, "linux/arm64") {
		t.Errorf("missing platform error does not list the platforms: %s", msg)
	}

	e.gantry("pull", "--all-platforms", baseRef("multi"))
	if out := e.gantry("images"); !strings.Contains(out, "2 platforms") {
		t.Errorf("images after --all-platforms:\n%s", out)
	}
	summary := e.gantry("inspect", "--platform", "linux/arm64", baseRef("multi"))
	if field(summary, "Platform") != "linux/arm64" || !strings.Contains(field(summary, "Platforms"), "linux/amd64") {
		t.Errorf("inspect of the index:\n%s", summary)
	}

	dir := t.TempDir()
	archive := filepath.Join(dir, "multi.tar")
	e.gantry("save", baseRef("multi"), "-o", archive)
	sh(t, "skopeo", "inspect", "oci-archive:"+archive)
	sh(t, "docker", "load", "-i", archive)
	t.Cleanup(func() { shErr("docker", "rmi", "-f", baseRef("multi")) })
	if got := sh(t, "docker", "run", "--rm", "--network", "none", baseRef("multi"), "echo", "multi"); strings.TrimSpace(got) != "multi" {
		t.Errorf("docker run of the saved index printed %q", got)
	}

	dest := uniqueRepo("index") + ":1"
	e.gantry("push", baseRef("multi"), dest)
	raw := sh(t, "skopeo", "inspect", "--raw", "--tls-verify=false", "docker://"+dest)
	var idx struct{ Manifests []json.RawMessage }
	if err := json.Unmarshal([]byte(raw), &idx); err != nil || len(idx.Manifests) != 2 {
		t.Fatalf("pushed index has %d manifests (%v):\n%s", len(idx.Manifests), err, raw)
	}
	sh(t, "skopeo", "inspect", "--tls-verify=false", "--override-arch", "arm64", "docker://"+dest)
}

// --format oci writes a layout tar that skopeo and umoci read.
func TestSaveOCIReadByUmoci(t *testing.T) {
	e := newEnv(t)
	e.gantry("pull", baseRef("amd64"))
	dir := t.TempDir()
	archive := filepath.Join(dir, "oci.tar")
	e.gantry("save", "--format", "oci", baseRef("amd64"), "-o", archive)
	sh(t, "skopeo", "inspect", "oci-archive:"+archive)
	layout := filepath.Join(dir, "layout")
	os.MkdirAll(layout, 0o755)
	sh(t, "tar", "-C", layout, "-xf", archive)
	tag := "amd64"
	var index struct {
		Manifests []struct{ Annotations map[string]string }
	}
	b, _ := os.ReadFile(filepath.Join(layout, "index.json"))
	if err := json.Unmarshal(b, &index); err != nil || len(index.Manifests) == 0 {
		t.Fatalf("index.json: %v\n%s", err, b)
	}
	if n := index.Manifests[0].Annotations["org.opencontainers.image.ref.name"]; n != "" {
		tag = n
	}
	bundle := filepath.Join(dir, "bundle")
	sh(t, "umoci", "unpack", "--image", layout+":"+tag, bundle)
	if _, err := os.Stat(filepath.Join(bundle, "rootfs", "bin", "busybox")); err != nil {
		t.Errorf("umoci unpack: %v", err)
	}
	// Stdout and .gz outputs.
	stdout, _, err := e.run(nil, "save", baseRef("amd64"), "-o", "-")
	if err != nil || len(stdout) < 1024 {
		t.Fatalf("save -o -: %v (%d bytes)", err, len(stdout))
	}
	gz := filepath.Join(dir, "x.tar.gz")
	e.gantry("save", baseRef("amd64"), "-o", gz)
	sh(t, "docker", "load", "-i", gz)
}

// --compressed-layers archives are loaded by Docker and run.
func TestSaveCompressedLayersDockerLoads(t *testing.T) {
	e := newEnv(t)
	e.gantry("pull", baseRef("amd64"))
	tag := "gantry-e2e/compressed:1"
	e.gantry("tag", baseRef("amd64"), tag)
	archive := filepath.Join(t.TempDir(), "c.tar")
	e.gantry("save", "--compressed-layers", tag, "-o", archive)
	sh(t, "docker", "load", "-i", archive)
	t.Cleanup(func() { shErr("docker", "rmi", "-f", tag) })
	if got := sh(t, "docker", "run", "--rm", "--network", "none", tag, "echo", "compressed"); strings.TrimSpace(got) != "compressed" {
		t.Errorf("docker run printed %q", got)
	}
	sh(t, "skopeo", "inspect", "docker-archive:"+archive)
}
