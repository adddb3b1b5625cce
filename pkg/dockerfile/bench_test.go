package dockerfile

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gantry-build/gantry/pkg/registry"
	"github.com/gantry-build/gantry/pkg/store"
)

// BenchmarkDockerfileCopy builds FROM scratch + COPY of a source-tree-shaped
// context (2,000 small files): cold (empty store) and again with nothing
// changed, the two paths the Dockerfile benchmark in bench/ times.
func BenchmarkDockerfileCopy(b *testing.B) {
	ctxDir := b.TempDir()
	body := strings.Repeat("package main // some source\n", 40)
	for d := 0; d < 100; d++ {
		dir := filepath.Join(ctxDir, "src", fmt.Sprintf("pkg%03d", d))
		os.MkdirAll(dir, 0o755)
		for f := 0; f < 20; f++ {
			os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%02d.go", f)), []byte(body), 0o644)
		}
	}
	os.WriteFile(filepath.Join(ctxDir, "Dockerfile"), []byte("FROM scratch\nCOPY src /src\n"), 0o644)
	rc, err := registry.New(registry.Options{})
	if err != nil {
		b.Fatal(err)
	}
	build := func(st *store.Store) {
		if _, err := FromDockerfile(context.Background(), st, rc, DockerfileOptions{Context: ctxDir}); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("cold", func(b *testing.B) {
		for b.Loop() {
			st, err := store.Open(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			build(st)
		}
	})
	b.Run("unchanged", func(b *testing.B) {
		st, err := store.Open(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		build(st)
		for b.Loop() {
			build(st)
		}
	})
}
