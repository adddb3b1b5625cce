package e2e

import (
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gantry-build/gantry/internal/faultproxy"
)

// A registry behind the fault proxy, seen by gantry under the proxy's
// address; the repository path is the same.
func proxied(t *testing.T) *faultproxy.Proxy {
	t.Helper()
	p := faultproxy.New("http://" + registry)
	t.Cleanup(p.Close)
	return p
}

func TestRepeatPullCostsOneManifestRequest(t *testing.T) {
	p := proxied(t)
	ref := p.Host() + "/e2e/busybox:amd64"
	e := newEnv(t)
	e.gantry("pull", ref)
	before := len(p.Requests())
	out := e.gantry("pull", ref)
	if !strings.Contains(out, "Image is up to date") {
		t.Errorf("repeat pull:\n%s", out)
	}
	var manifests, blobs int
	for _, r := range p.Requests()[before:] {
		switch {
		case strings.Contains(r.Path, "/manifests/"):
			manifests++
		case strings.Contains(r.Path, "/blobs/"):
			blobs++
		}
	}
	if manifests != 1 || blobs != 0 {
		t.Errorf("repeat pull made %d manifest and %d blob requests, want 1 and 0: %+v", manifests, blobs, p.Requests()[before:])
	}

	// Another manifest (skopeo's OCI conversion) of the same config and
	// layer: only the manifest is fetched, the layer is skipped.
	variant := uniqueRepo("ocivariant") + ":1"
	sh(t, "skopeo", "copy", "-q", "--format", "oci", "--src-tls-verify=false", "--dest-tls-verify=false", "docker://"+baseRef("amd64"), "docker://"+variant)
	_, layers := e.imageBlobs(ref)
	before = len(p.Requests())
	_, stderr, err := e.run(nil, "--progress", "json", "pull", strings.Replace(variant, registry, p.Host(), 1))
	if err != nil {
		t.Fatalf("pull of the OCI variant: %v\n%s", err, stderr)
	}
	if skips := skipReasons(t, stderr); skips[layers[0]] != "already in store" {
		t.Errorf("layer %s: skip reason %q, want \"already in store\"; events:\n%s", layers[0], skips[layers[0]], stderr)
	}
	for _, r := range p.Requests()[before:] {
		if strings.Contains(r.Path, "/blobs/"+layers[0]) {
			t.Errorf("the stored layer was requested again: %+v", r)
		}
	}
}

// The seed's job run again with nothing changed, against the distribution
// registry: the push asks for the tag once (it names the same manifest)
// and sends no blob, no manifest; the base's layers are never fetched.
func TestUnchangedBuildPushIsOneRequest(t *testing.T) {
	p := proxied(t)
	e := newEnv(t)
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "app.txt"), []byte("app\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	base := p.Host() + "/e2e/busybox:amd64"
	dest := strings.Replace(uniqueRepo("unchanged"), registry, p.Host(), 1) + ":1"
	job := []string{"build", "--from", base, "--add", src + ":/app", "--entrypoint", "/bin/sh", "-t", dest, "--push"}
	first := e.gantry(job...)
	before := len(p.Requests())
	if again := e.gantry(job...); again != first {
		t.Errorf("the same job pushed %q, then %q", first, again)
	}
	other := newEnv(t) // its store, not the build's, holds the base to name its layers
	other.gantry("pull", baseRef("amd64"))
	_, baseLayers := other.imageBlobs(baseRef("amd64"))
	var toRepo []string
	for _, r := range p.Requests()[before:] {
		for _, l := range baseLayers {
			if strings.HasSuffix(r.Path, "/blobs/"+l) && r.Method == "GET" {
				t.Errorf("a base layer was fetched: %+v", r)
			}
		}
		if strings.Contains(r.Path, "/e2e/unchanged-") {
			toRepo = append(toRepo, r.Method+" "+r.Path)
		}
	}
	if len(toRepo) != 1 || !strings.HasPrefix(toRepo[0], "HEAD ") || !strings.HasSuffix(toRepo[0], "/manifests/1") {
		t.Errorf("requests to the pushed repository: %v, want one HEAD of the tag", toRepo)
	}
}

func TestRegistryFaultsAreSurvived(t *testing.T) {
	p := proxied(t)
	ref := p.Host() + "/e2e/busybox:amd64"
	p.Add(faultproxy.Fault{PathContains: "/manifests/", Status: 503, Times: 2})
	p.Add(faultproxy.Fault{Method: "GET", PathContains: "/blobs/", Status: 429, RetryAfter: "1"})
	p.Add(faultproxy.Fault{Method: "GET", PathContains: "/blobs/sha256", DropAfter: 200 << 10, Times: 2})
	e := newEnv(t)
	out := e.gantry("pull", ref)
	if lastLine(out) != ref || !strings.Contains(out, "Downloaded newer image") {
		t.Errorf("pull through faults:\n%s", out)
	}
	resumed, unavailable, throttled := false, 0, 0
	for _, r := range p.Requests() {
		if strings.HasPrefix(r.Range, "bytes=") {
			resumed = true
		}
		if r.Fault && r.Status == 503 {
			unavailable++
		}
		if r.Fault && r.Status == 429 {
			throttled++
		}
	}
	if unavailable != 2 || throttled != 1 {
		t.Errorf("the proxy answered 503 %d times and 429 %d times, want 2 and 1: %+v", unavailable, throttled, p.Requests())
	}
	if !resumed {
		t.Errorf("a dropped download was not resumed with a Range request: %+v", p.Requests())
	}
	checkStore(t, e.root)
	// What was pulled through faults is the image itself.
	if got, want := e.gantry("inspect", "--raw", "manifest", ref), sh(t, "skopeo", "inspect", "--raw", "--tls-verify=false", "docker://"+baseRef("amd64")); got != want {
		t.Errorf("stored manifest differs from the registry's")
	}
	e.gantry("save", ref, "-o", filepath.Join(t.TempDir(), "x.tar"))
}

func TestErrorsAreOneClearLine(t *testing.T) {
	e := newEnv(t)
	if msg := e.gantryFails("pull", registry+"/e2e/nope:1"); !strings.Contains(msg, "not found: "+registry+"/e2e/nope:1") {
		t.Errorf("missing repository: %s", msg)
	}
	if msg := e.gantryFails("pull", baseRef("no-such-tag")); !strings.Contains(msg, "not found: "+baseRef("no-such-tag")) {
		t.Errorf("missing tag: %s", msg)
	}
	if msg := e.gantryFails("inspect", "never/pulled:1"); !strings.Contains(msg, "no such image") {
		t.Errorf("unknown image: %s", msg)
	}
	// Without progress output, stderr is the error line alone, and stdout
	// is empty.
	for _, args := range [][]string{
		{"--progress", "quiet", "pull", registry + "/e2e/nope:1"},
		{"inspect", "--remote", registry + "/e2e/nope:1"},
		{"tag", "never/pulled:1", "x/y:1"},
		{"save", "never/pulled:1", "-o", filepath.Join(t.TempDir(), "x.tar")},
		{"load", "-i", filepath.Join(t.TempDir(), "missing.tar")},
	} {
		stdout, stderr, err := e.run(nil, args...)
		if err == nil || stdout != "" || strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "gantry: ") {
			t.Errorf("gantry %s: %v\nstdout: %q\nstderr: %q", strings.Join(args, " "), err, stdout, stderr)
		}
	}

	// A truncated archive fails, names the archive, and leaves the store usable.
	e.gantry("pull", baseRef("amd64"))
	dir := t.TempDir()
	full := filepath.Join(dir, "full.tar")
	e.gantry("save", baseRef("amd64"), "-o", full)
	b, _ := os.ReadFile(full)
	cut := filepath.Join(dir, "cut.tar")
	os.WriteFile(cut, b[:len(b)*2/3], 0o644)
	e2 := newEnv(t)
	stdout, stderr, err := e2.run(nil, "--progress", "quiet", "load", "-i", cut)
	if err == nil || strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "gantry: ") || !strings.Contains(stderr, "cut.tar") {
		t.Errorf("load of a truncated archive: %v\nstdout: %q\nstderr: %q", err, stdout, stderr)
	}
	if out := e2.gantry("images", "--format", "json"); strings.TrimSpace(out) != "[]" {
		t.Errorf("a failed load left images:\n%s", out)
	}
	e2.gantry("load", "-i", full)
	checkStore(t, e2.root)
	if out := e2.gantry("images"); !strings.Contains(out, registry+"/e2e/busybox") {
		t.Errorf("images after loading the full archive:\n%s", out)
	}
}

// A gantry killed in the middle of a pull leaves a store the next pull
// completes; no blob is ever stored under a name its bytes do not match.
func TestKilledPullRecovers(t *testing.T) {
	p := proxied(t)
	p.Add(faultproxy.Fault{Method: "GET", PathContains: "/blobs/sha256", BytesPerSecond: 100 << 10, Times: 10})
	ref := p.Host() + "/e2e/busybox:amd64"
	e := newEnv(t)
	cmd := exec.Command(gantryBin, "pull", ref)
	cmd.Env = e.environ()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill it once a layer download is under way (the layer is about 1 MB,
	// throttled to 100 KB/s: some 10 s).
	deadline := time.Now().Add(10 * time.Second)
	for started := false; !started; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("no blob download started in 10 s: %+v", p.Requests())
		}
		for _, r := range p.Requests() {
			started = started || (r.Fault && strings.Contains(r.Path, "/blobs/"))
		}
	}
	time.Sleep(500 * time.Millisecond)
	cmd.Process.Kill()
	if err := cmd.Wait(); err == nil {
		t.Fatal("the throttled pull finished before it was killed: the test proves nothing")
	}
	checkStore(t, e.root)
	tmp, _ := os.ReadDir(filepath.Join(e.root, "tmp"))
	if len(tmp) == 0 {
		t.Log("the killed pull left no temp file (it may have been between blobs)")
	}

	e.gantry("pull", registry+"/e2e/busybox:amd64")
	if out := e.gantry("images"); !strings.Contains(out, "e2e/busybox") {
		t.Errorf("images after recovery:\n%s", out)
	}
	out := e.gantry("prune")
	if !strings.Contains(out, "Deleted") {
		t.Errorf("prune: %s", out)
	}
	checkStore(t, e.root)
	if tmp, _ := os.ReadDir(filepath.Join(e.root, "tmp")); len(tmp) != 0 {
		t.Errorf("prune left temp files: %v", tmp)
	}
}

// checkStore verifies every blob's bytes against its name.
func checkStore(t *testing.T, root string) {
	t.Helper()
	dir := filepath.Join(root, "blobs", "sha256")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, ent := range entries {
		f, err := os.Open(filepath.Join(dir, ent.Name()))
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		io.Copy(h, f)
		f.Close()
		if got := fmt.Sprintf("%x", h.Sum(nil)); got != ent.Name() {
			t.Errorf("blob %s holds bytes hashing to %s", ent.Name(), got)
		}
	}
}

func TestMirrorsForDockerHub(t *testing.T) {
	mirror := startRegistry(t, "")
	copyBase(t, mirror+"/library/busybox:latest")
	e := newEnv(t)
	os.MkdirAll(filepath.Join(e.config, "gantry"), 0o755)
	// The first mirror is dead; Docker Hub is unreachable from CI: the
	// second mirror must serve the pull.
	cfg := fmt.Sprintf(`{"registry-mirrors":["http://127.0.0.1:9","http://%s"]}`, mirror)
	os.WriteFile(filepath.Join(e.config, "gantry", "config.json"), []byte(cfg), 0o644)
	out := e.gantry("pull", "busybox")
	if lastLine(out) != "docker.io/library/busybox:latest" {
		t.Errorf("pull busybox via mirror:\n%s", out)
	}
	if got := field(e.gantry("inspect", "busybox"), "Platform"); got != "linux/amd64" {
		t.Errorf("inspect busybox: platform %q", got)
	}
}

func TestInsecureRegistriesConfig(t *testing.T) {
	// A registry reached by a non-loopback name is HTTPS unless configured.
	e := newEnv(t)
	ref := strings.Replace(baseRef("amd64"), "127.0.0.1", "localhost", 1)
	e.gantry("pull", ref) // localhost is plain HTTP by default
	// The machine's own name reaches the loopback registry, but as a name
	// it is not loopback: HTTPS unless --insecure or configured.
	hostname, _ := os.Hostname()
	addrs, _ := net.LookupHost(hostname)
	if len(addrs) == 0 || !net.ParseIP(addrs[0]).IsLoopback() {
		t.Logf("host name %q does not resolve to loopback here; only localhost was checked", hostname)
		return
	}
	_, port, _ := strings.Cut(registry, ":")
	named := hostname + ":" + port + "/e2e/busybox:amd64"
	e.gantryFails("pull", named)
	e.gantry("--insecure", "pull", named)
	os.MkdirAll(filepath.Join(e.config, "gantry"), 0o755)
	os.WriteFile(filepath.Join(e.config, "gantry", "config.json"), []byte(fmt.Sprintf(`{"insecure-registries":[%q]}`, hostname+":"+port)), 0o644)
	e.gantry("pull", named)
}

// Several gantry processes pulling into one store at once leave it whole.
func TestConcurrentPullsShareAStore(t *testing.T) {
	e := newEnv(t)
	refs := []string{baseRef("amd64"), baseRef("multi"), baseRef("arm64"), baseRef("amd64")}
	errs := make(chan error, len(refs))
	for i, ref := range refs {
		go func(i int, ref string) {
			args := []string{"pull", ref}
			if i == 2 {
				args = []string{"pull", "--platform", "linux/arm64", ref}
			}
			out, stderr, err := e.run(nil, args...)
			if err != nil {
				err = fmt.Errorf("pull %s: %v\n%s%s", ref, err, out, stderr)
			}
			errs <- err
		}(i, ref)
	}
	for range refs {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	checkStore(t, e.root)
	out := e.gantry("images", "--format", "json")
	for _, tag := range []string{`"tag": "amd64"`, `"tag": "multi"`, `"tag": "arm64"`} {
		if !strings.Contains(out, tag) {
			t.Errorf("images lacks %s:\n%s", tag, out)
		}
	}
	if q := e.gantry("-q", "pull", baseRef("amd64")); strings.TrimSpace(q) != baseRef("amd64") {
		t.Errorf("pull -q printed %q, want only the name", q)
	}
}

// A push through a registry that throttles, fails and hangs up on uploads
// ends with the whole image there: throttled requests wait for Retry-After,
// a broken upload is started over.
func TestPushSurvivesFaults(t *testing.T) {
	e := newEnv(t)
	e.gantry("pull", baseRef("amd64"))
	p := proxied(t)
	dest := p.Host() + "/" + strings.TrimPrefix(uniqueRepo("faultpush"), registry+"/") + ":1"
	p.Add(faultproxy.Fault{Method: "POST", PathContains: "/blobs/uploads/", Status: 429, RetryAfter: "1"})
	p.Add(faultproxy.Fault{Method: "PUT", PathContains: "/blobs/uploads/", Status: 503})
	p.Add(faultproxy.Fault{Method: "PUT", PathContains: "/blobs/uploads/", Hangup: true})
	e.gantry("push", baseRef("amd64"), dest)
	var throttled, failed, hungUp int
	for _, r := range p.Requests() {
		switch {
		case r.Fault && r.Status == 429:
			throttled++
		case r.Fault && r.Status == 503:
			failed++
		case r.Fault && r.Status == 0:
			hungUp++
		}
	}
	if throttled != 1 || failed != 1 || hungUp != 1 {
		t.Errorf("faults hit: 429 %d, 503 %d, hang-ups %d; want one each: %+v", throttled, failed, hungUp, p.Requests())
	}
	// What arrived is the image itself, readable by another tool.
	want := sh(t, "skopeo", "inspect", "--raw", "--tls-verify=false", "docker://"+baseRef("amd64"))
	if got := sh(t, "skopeo", "inspect", "--raw", "--tls-verify=false", "docker://"+dest); got != want {
		t.Errorf("pushed manifest differs:\n%s\nwant\n%s", got, want)
	}
	sh(t, "skopeo", "copy", "-q", "--src-tls-verify=false", "docker://"+dest, "oci:"+filepath.Join(t.TempDir(), "oci")+":x")
}
