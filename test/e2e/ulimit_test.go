package e2e

import (
	"os"
	"path/filepath"
	"testing"
)

// build --ulimit sets the RUN steps' limits, as docker build --ulimit does.
func TestBuildUlimit(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("ARG BASE\nFROM $BASE\nRUN sh -c 'ulimit -n > /nofile; ulimit -Hn > /nofile-hard'\n"), 0o644)
	e.gantry("build", dir, "--build-arg", "BASE="+baseRef("amd64"), "--ulimit", "nofile=1024:2048", "-t", "example.com/ulimit:1")
	root := filepath.Join(t.TempDir(), "root")
	e.gantry("export", "example.com/ulimit:1", "--dir", root)
	for file, want := range map[string]string{"nofile": "1024\n", "nofile-hard": "2048\n"} {
		if b, _ := os.ReadFile(filepath.Join(root, file)); string(b) != want {
			t.Errorf("/%s = %q, want %q", file, b, want)
		}
	}
	if msg := e.gantryFails("build", dir, "--build-arg", "BASE="+baseRef("amd64"), "--ulimit", "nofile=lots", "-t", "example.com/ulimit:2"); msg == "" {
		t.Error("a bad --ulimit was accepted")
	}
}
