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
