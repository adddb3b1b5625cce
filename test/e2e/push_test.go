package e2e

import (
	"crypto/sha256"
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

// event is one line of --progress json.
type event struct {
	Time, Event, ID, Name, Reason, Error, Message string
	Total, Current                                int64
}

// events parses --progress json output; every line must be an event.
func events(t *testing.T, stderr string) []event {
	t.Helper()
	var out []event
	for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
		if line == "" {
			continue
		}
		var ev event
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("progress line is not JSON: %q", line)
		}
		switch ev.Event {
		case "start", "progress", "done", "skip", "fail", "message":
		default:
			t.Errorf("progress line with an unknown event: %q", line)
		}
		if ev.Time == "" || (ev.Event != "message" && !strings.HasPrefix(ev.ID, "sha256:")) {
			t.Errorf("progress line without time or id: %q", line)
		}
		out = append(out, ev)
	}
	return out
}

// skipReasons parses --progress json events into id → skip reason.
func skipReasons(t *testing.T, stderr string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, ev := range events(t, stderr) {
		if ev.Event == "skip" {
			out[ev.ID] = ev.Reason
		}
	}
	return out
}

// imageBlobs returns the config and layer digests of a stored image.
func (e *env) imageBlobs(ref string) (config string, layers []string) {
	e.t.Helper()
	var got struct {
		Config json.RawMessage
		Layers []struct{ Digest string }
	}
	if err := json.Unmarshal([]byte(e.gantry("inspect", "--format", "json", ref)), &got); err != nil {
		e.t.Fatal(err)
	}
	for _, l := range got.Layers {
		layers = append(layers, l.Digest)
	}
	return digestOf(e.gantry("inspect", "--raw", "config", ref)), layers
}

func digestOf(s string) string { return fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(s))) }

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
	if lastLine(out) != dest {
		t.Errorf("push printed %q last, want %s", lastLine(out), dest)
	}
	config, layers := e.imageBlobs(baseRef("amd64"))
	skips := skipReasons(t, stderr)
	for _, layer := range layers {
		if skips[layer] != "mounted from e2e/busybox" {
			t.Errorf("layer %s: skip reason %q, want \"mounted from e2e/busybox\"; events:\n%s", layer, skips[layer], stderr)
		}
	}
	digest := field(out, "Digest")
	if digest != field(e.gantry("inspect", baseRef("amd64")), "Digest") {
		t.Errorf("pushed digest %s is not the stored manifest's", digest)
	}
	if got := strings.TrimSpace(sh(t, "skopeo", "inspect", "--tls-verify=false", "--format", "{{.Digest}}", "docker://"+dest)); got != digest {
		t.Errorf("skopeo sees %s, gantry pushed %s", got, digest)
	}

	_, stderr, err = e.run(nil, "--progress", "json", "push", baseRef("amd64"), dest)
	if err != nil {
		t.Fatal(err)
	}
	skips = skipReasons(t, stderr)
	for _, blob := range append(layers, config) {
		if skips[blob] != "exists" {
			t.Errorf("second push: %s skip reason %q, want exists; events:\n%s", blob, skips[blob], stderr)
		}
	}
	for _, ev := range events(t, stderr) {
		if ev.Event == "start" || ev.Event == "done" {
			t.Errorf("second push uploaded something: %+v", ev)
		}
	}

	// Into an empty registry everything is uploaded, with progress events
	// that add up to the layer's size.
	other := startRegistry(t, "") + "/fresh/busybox:1"
	out, stderr, err = e.run(nil, "--progress", "json", "push", baseRef("amd64"), other)
	if err != nil || field(out, "Digest") != digest {
		t.Fatalf("push to an empty registry: %v\n%s%s", err, out, stderr)
	}
	var started, done bool
	for _, ev := range events(t, stderr) {
		if ev.ID != layers[0] {
			continue
		}
		switch ev.Event {
		case "start":
			started = ev.Total > 0
		case "done":
			done = ev.Current > 0
		case "skip", "fail":
			t.Errorf("layer upload to an empty registry: %+v", ev)
		}
	}
	if !started || !done {
		t.Errorf("no start and done events (with sizes) for the uploaded layer:\n%s", stderr)
	}
	if got := strings.TrimSpace(sh(t, "skopeo", "inspect", "--tls-verify=false", "--format", "{{.Digest}}", "docker://"+other)); got != digest {
		t.Errorf("skopeo sees %s in the empty registry, gantry pushed %s", got, digest)
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
	if got := digestOf(e.gantry("inspect", "--raw", "config", t2)); got != id {
		t.Errorf("loaded image's config digest %s, docker's image ID %s", got, id)
	}
	if got := field(e.gantry("inspect", t1), "ID"); got != id {
		t.Errorf("inspect shows ID %s, docker's %s", got, id)
	}
	dest := uniqueRepo("loaded") + ":1"
	e.gantry("push", t1, dest)
	sh(t, "docker", "pull", dest)
	t.Cleanup(func() { shErr("docker", "rmi", "-f", dest) })
	if got := sh(t, "docker", "run", "--rm", "--network", "none", dest, "echo", "loaded"); strings.TrimSpace(got) != "loaded" {
		t.Errorf("docker run printed %q", got)
	}

	// The pre-1.10 layouts: the same archive without manifest.json, and
	// without the <config>.json files too (only repositories and the
	// <v1 id>/{VERSION,json,layer.tar} chain).
	x := filepath.Join(dir, "x")
	os.MkdirAll(x, 0o755)
	sh(t, "tar", "-C", x, "-xf", archive)
	os.Remove(filepath.Join(x, "manifest.json"))
	legacy := filepath.Join(dir, "legacy.tar")
	sh(t, "tar", "-C", x, "-cf", legacy, ".")
	configs, _ := filepath.Glob(filepath.Join(x, "*.json"))
	for _, c := range configs {
		os.Remove(c)
	}
	oldest := filepath.Join(dir, "oldest.tar")
	sh(t, "tar", "-C", x, "-cf", oldest, ".")
	for _, a := range []string{legacy, oldest} {
		e2 := newEnv(t)
		out = e2.gantry("load", "-i", a)
		if !strings.Contains(out, "Loaded image: "+t1) || !strings.Contains(out, "Loaded image: "+t2) {
			t.Fatalf("load of %s:\n%s", filepath.Base(a), out)
		}
		if got := digestOf(e2.gantry("inspect", "--raw", "config", t1)); got != id {
			t.Errorf("load of %s: image ID %s, docker's %s", filepath.Base(a), got, id)
		}
		resaved := filepath.Join(dir, "resaved-"+filepath.Base(a))
		e2.gantry("save", t1, "-o", resaved)
		sh(t, "docker", "rmi", t1)
		sh(t, "docker", "load", "-i", resaved)
		if got := sh(t, "docker", "run", "--rm", "--network", "none", t1, "echo", "legacy"); strings.TrimSpace(got) != "legacy" {
			t.Errorf("docker run of the image loaded from %s printed %q", filepath.Base(a), got)
		}
	}

	// gzip-compressed with -i and from stdin; plain from stdin.
	gz := filepath.Join(dir, "saved.tar.gz")
	if err := exec.Command("sh", "-c", "gzip -c "+archive+" > "+gz).Run(); err != nil {
		t.Fatal(err)
	}
	if out := newEnv(t).gantry("load", "-i", gz); !strings.Contains(out, "Loaded image: "+t1) {
		t.Errorf("load -i of a .gz:\n%s", out)
	}
	for _, a := range []string{gz, archive} {
		data, err := os.ReadFile(a)
		if err != nil {
			t.Fatal(err)
		}
		e3 := newEnv(t)
		stdout, stderr, err := e3.run(data, "load")
		if err != nil || !strings.Contains(stdout, "Loaded image: "+t1) || !strings.Contains(stdout, "Loaded image: "+t2) {
			t.Fatalf("load from stdin of %s: %v\n%s%s", filepath.Base(a), err, stdout, stderr)
		}
	}

	// An archive of an image saved by ID has no names.
	byID := filepath.Join(dir, "byid.tar")
	sh(t, "docker", "save", "-o", byID, strings.TrimPrefix(id, "sha256:"))
	e4 := newEnv(t)
	if out := e4.gantry("load", "-i", byID); strings.TrimSpace(out) != "Loaded image ID: "+id {
		t.Errorf("load of an unnamed image printed %q, want \"Loaded image ID: %s\"", out, id)
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
	var rows []struct {
		Name      string
		Platforms []string
	}
	if err := json.Unmarshal([]byte(e.gantry("images", "--format", "json")), &rows); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if r.Name == baseRef("multi") && strings.Join(r.Platforms, ",") != "linux/amd64,linux/arm64" {
			t.Errorf("images --format json platforms of the index: %v", r.Platforms)
		}
	}
	summary := e.gantry("inspect", "--platform", "linux/arm64", baseRef("multi"))
	if field(summary, "Platform") != "linux/arm64" || !strings.Contains(field(summary, "Platforms"), "linux/amd64") {
		t.Errorf("inspect of the index:\n%s", summary)
	}
	// Without --platform: the host's image (the suite runs on amd64), and
	// the list of platforms.
	summary = e.gantry("inspect", baseRef("multi"))
	if field(summary, "Platform") != "linux/amd64" || field(summary, "Platforms") != "linux/amd64, linux/arm64" {
		t.Errorf("inspect of the index without --platform:\n%s", summary)
	}
	rawIndex := sh(t, "skopeo", "inspect", "--raw", "--tls-verify=false", "docker://"+baseRef("multi"))
	if got := digestOf(rawIndex); got != field(summary, "Index") {
		t.Errorf("inspect shows index %s, the registry serves %s", field(summary, "Index"), got)
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
	// Stdout (two names in one archive, into docker load's stdin) and .gz.
	e.gantry("tag", baseRef("amd64"), "gantry-e2e/stdout:1")
	stdout, stderr, err := e.run(nil, "save", baseRef("amd64"), "gantry-e2e/stdout:1", "-o", "-")
	if err != nil || len(stdout) < 1024 {
		t.Fatalf("save -o -: %v (%d bytes) %s", err, len(stdout), stderr)
	}
	loaded, err := dockerWith(os.Getenv("DOCKER_CONFIG"), []byte(stdout), "load")
	t.Cleanup(func() { shErr("docker", "rmi", "gantry-e2e/stdout:1") })
	if err != nil || !strings.Contains(loaded, "Loaded image: gantry-e2e/stdout:1") || !strings.Contains(loaded, "Loaded image: "+baseRef("amd64")) {
		t.Errorf("docker load of save -o -: %v\n%s", err, loaded)
	}
	gz := filepath.Join(dir, "x.tar.gz")
	e.gantry("save", baseRef("amd64"), "-o", gz)
	if b, _ := os.ReadFile(gz); len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
		t.Errorf("save -o x.tar.gz did not write gzip")
	}
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

// save pulls an image the store lacks and writes the archive as the layers
// arrive; Docker loads and runs it, and the image stays stored.
func TestSavePullsFromTheRegistry(t *testing.T) {
	e := newEnv(t)
	archive := filepath.Join(t.TempDir(), "pulled.tar")
	if msg := e.gantryFails("save", "--pull", "never", baseRef("amd64"), "-o", archive); !strings.Contains(msg, "no such image") {
		t.Errorf("save --pull never of a missing image: %s", msg)
	}
	e.gantry("save", baseRef("amd64"), "-o", archive)
	id := strings.TrimSpace(sh(t, "docker", "load", "-q", "-i", archive))
	t.Cleanup(func() { shErr("docker", "rmi", "-f", baseRef("amd64")) })
	if got := sh(t, "docker", "run", "--rm", "--network", "none", baseRef("amd64"), "echo", "pulled"); strings.TrimSpace(got) != "pulled" {
		t.Errorf("docker run printed %q (load said %s)", got, id)
	}
	if out := e.gantry("images"); !strings.Contains(out, "busybox") {
		t.Errorf("the pulled image is not stored:\n%s", out)
	}
}
