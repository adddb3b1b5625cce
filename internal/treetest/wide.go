package treetest

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// Wide fills dir/under with folders pkg000… of files f000… each (a few
// bytes): the many-small-files trees the benchmarks walk.
func Wide(tb testing.TB, dir, under string, folders, files int) {
	tb.Helper()
	for d := 0; d < folders; d++ {
		folder := filepath.Join(dir, under, fmt.Sprintf("pkg%03d", d))
		if err := os.MkdirAll(folder, 0o755); err != nil {
			tb.Fatal(err)
		}
		for f := 0; f < files; f++ {
			if err := os.WriteFile(filepath.Join(folder, fmt.Sprintf("f%03d", f)), []byte("content"), 0o644); err != nil {
				tb.Fatal(err)
			}
		}
	}
}
