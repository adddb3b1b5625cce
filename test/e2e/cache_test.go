package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// --cache-to exports every step the build used, also those a warm store
// already had (a warm store pushed nothing before), and type=local writes an
// OCI layout folder that --cache-from type=local reads on a runner with an
// empty store.
func TestCacheExportsFromAWarmStore(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.txt"), []byte("a"), 0o644)
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM "+baseRef("amd64")+"\nCOPY a.txt /a\nRUN echo ran > /ran\n"), 0o644)
	warm := newEnv(t)
	first := lastLine(warm.gantry("build", dir, "-t", "example.com/cachex:1"))
	for _, to := range []struct{ to, from string }{
		{uniqueRepo("cache-warm"), ""},
		{"type=local,dest=" + filepath.Join(t.TempDir(), "layout"), ""},
	} {
		from := to.to
		if strings.HasPrefix(to.to, "type=local,dest=") {
			from = "type=local,src=" + strings.TrimPrefix(to.to, "type=local,dest=")
		}
		_, stderr, err := warm.run(nil, "--progress", "plain", "build", dir, "--cache-to", to.to, "-t", "example.com/cachex:1")
		if err != nil {
			t.Fatalf("--cache-to %s: %v\n%s", to.to, err, stderr)
		}
		if n := strings.Count(stderr, "CACHED"); n != 2 {
			t.Errorf("the warm build ran steps: %d CACHED\n%s", n, stderr)
		}
		fresh := newEnv(t)
		out, stderr, err := fresh.run(nil, "--progress", "plain", "build", dir, "--cache-from", from, "-t", "example.com/cachex:1")
		if err != nil {
			t.Fatalf("--cache-from %s: %v\n%s", from, err, stderr)
		}
		if n := strings.Count(stderr, "CACHED (from "); n != 2 {
			t.Errorf("--cache-from %s gave %d steps, want 2:\n%s", from, n, stderr)
		}
		if lastLine(out) != first {
			t.Errorf("the cached build gave %s, the first %s", lastLine(out), first)
		}
	}
	if msg := warm.gantryFails("build", dir, "--cache-to", "type=gha", "-t", "example.com/cachex:1"); !strings.Contains(msg, "gantry's cache types are registry, local and inline") {
		t.Errorf("type=gha: %s", msg)
	}
}

// buildx's inline cache habit: build with --cache-to type=inline and push;
// a new runner (an empty store) builds with --cache-from IMAGE and reuses
// every step (the RUN does not run again: the same /stamp, the same
// digest); Docker pulls and runs the image that carries the cache; a
// changed file COPYed before the RUN runs it again.
func TestCacheInlineAcrossRunners(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.txt"), []byte("a"), 0o644)
	// The base by digest: every e2e run imports and pushes the base tag
	// anew (another time, another digest), which would change every key
	// between the runners.
	base := strings.TrimSpace(sh(t, "skopeo", "inspect", "--tls-verify=false", "--format", "{{.Digest}}", "docker://"+baseRef("amd64")))
	base = strings.TrimSuffix(baseRef("amd64"), ":amd64") + "@" + base
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM "+base+"\nCOPY a.txt /a\nRUN date +%s%N > /stamp\nCMD [\"cat\", \"/stamp\"]\n"), 0o644)
	repo := uniqueRepo("inline")
	pushedDigest := func(out, ref string) string {
		for _, l := range strings.Split(out, "\n") {
			if f := strings.Fields(l); len(f) == 3 && f[0] == "pushed" && strings.HasSuffix(f[1], strings.TrimPrefix(ref, registry)) {
				return f[2]
			}
		}
		t.Fatalf("%s was not pushed:\n%s", ref, out)
		return ""
	}
	stamp := func(e *env, ref string) string {
		root := filepath.Join(t.TempDir(), "root")
		e.gantry("export", ref, "--dir", root)
		b, err := os.ReadFile(filepath.Join(root, "stamp"))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	first := newEnv(t)
	d1 := pushedDigest(first.gantry("build", dir, "--cache-to", "type=inline", "-t", repo+":1", "--push"), repo+":1")
	raw := sh(t, "skopeo", "inspect", "--config", "--raw", "--tls-verify=false", "docker://"+repo+":1")
	if !strings.Contains(raw, `"gantry.cache.v1":{"steps":[{"key":"`) {
		t.Fatalf("the pushed config carries no inline cache:\n%s", raw)
	}
	stamp1 := stamp(first, repo+":1")

	second := newEnv(t)
	out, stderr, err := second.run(nil, "--progress", "plain", "build", dir, "--cache-from", repo+":1", "--cache-to", "type=inline", "-t", repo+":2", "--push")
	if err != nil {
		t.Fatalf("build --cache-from %s:1: %v\n%s", repo, err, stderr)
	}
	if n := strings.Count(stderr, "CACHED (from "+repo+":1)"); n != 2 {
		t.Errorf("%d steps came from the inline cache, want 2 (COPY, RUN):\n%s", n, stderr)
	}
	if d2 := pushedDigest(out, repo+":2"); d2 != d1 {
		t.Errorf("the cached build pushed %s, the first %s", d2, d1)
	}
	if s := stamp(second, repo+":2"); s != stamp1 {
		t.Errorf("/stamp is %q, the first build's %q: the RUN ran again", s, stamp1)
	}
	sh(t, "docker", "pull", repo+":2")
	t.Cleanup(func() { shErr("docker", "rmi", "-f", repo+":2") })
	if got := sh(t, "docker", "run", "--rm", "--network", "none", repo+":2"); got != stamp1 {
		t.Errorf("docker run printed %q, want %q", got, stamp1)
	}

	os.WriteFile(filepath.Join(dir, "a.txt"), []byte("changed"), 0o644)
	third := newEnv(t)
	out, stderr, err = third.run(nil, "--progress", "plain", "build", dir, "--cache-from", repo+":1", "-t", repo+":3", "--push")
	if err != nil {
		t.Fatalf("build after a change: %v\n%s", err, stderr)
	}
	if strings.Contains(stderr, "CACHED") {
		t.Errorf("a step was cached after a change to the COPYed file:\n%s", stderr)
	}
	if pushedDigest(out, repo+":3") == d1 || stamp(third, repo+":3") == stamp1 {
		t.Error("the RUN after a changed COPY did not run again")
	}

	// An image without an inline cache reuses nothing, says so, builds on.
	_, stderr, err = newEnv(t).run(nil, "--progress", "plain", "build", dir, "--cache-from", baseRef("amd64"), "-t", "example.com/inline:4")
	if err != nil || strings.Contains(stderr, "CACHED") || !strings.Contains(stderr, "no inline cache in its config") {
		t.Errorf("--cache-from an image without an inline cache: %v\n%s", err, stderr)
	}
	if msg := first.gantryFails("build", dir, "--cache-to", "type=inline,mode=max", "-t", repo+":5"); !strings.Contains(msg, "mode=max") {
		t.Errorf("type=inline,mode=max: %s", msg)
	}
}

// --cache-from is repeatable, as with buildx (a branch's cache, then
// main's): each is tried in order, and a step is taken from the first that
// has it.
func TestCacheFromSeveralSources(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.txt"), []byte("a"), 0o644)
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM "+baseRef("amd64")+"\nCOPY a.txt /a\nRUN echo ran > /ran\n"), 0o644)
	layout := filepath.Join(t.TempDir(), "layout")
	warm := newEnv(t)
	first := lastLine(warm.gantry("build", dir, "--cache-to", "type=local,dest="+layout, "-t", "example.com/several:1"))
	fresh := newEnv(t)
	empty := filepath.Join(t.TempDir(), "none")
	out, stderr, err := fresh.run(nil, "--progress", "plain", "build", dir, "--cache-from", "type=local,src="+layout,
		"--cache-from", "type=local,src="+empty, "-t", "example.com/several:1")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if n := strings.Count(stderr, "CACHED (from "+layout+")"); n != 2 {
		t.Errorf("two --cache-from: %d steps from the first, want 2:\n%s", n, stderr)
	}
	if lastLine(out) != first {
		t.Errorf("the cached build gave %s, the first %s", lastLine(out), first)
	}
}
