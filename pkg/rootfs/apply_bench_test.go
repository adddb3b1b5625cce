//go:build linux || darwin

package rootfs

import (
	"archive/tar"
	"bytes"
	"fmt"
	"testing"
	"time"
)

// BenchmarkApplySourceTree unpacks a layer shaped like a source tree
// (4,000 small files in 200 directories), the case where per-file system
// calls, not bytes, decide the time.
func BenchmarkApplySourceTree(b *testing.B) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	body := bytes.Repeat([]byte("package main // some source\n"), 100)
	for d := 0; d < 200; d++ {
		tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("src/pkg%03d/", d), Typeflag: tar.TypeDir, Mode: 0o755, ModTime: time.Unix(1, 0)})
		for f := 0; f < 20; f++ {
			tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("src/pkg%03d/file%02d.go", d, f), Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body)), ModTime: time.Unix(1, 0)})
			tw.Write(body)
		}
	}
	tw.Close()
	layer := buf.Bytes()
	b.SetBytes(int64(len(layer)))
	for b.Loop() {
		if err := Apply(b.TempDir(), bytes.NewReader(layer)); err != nil {
			b.Fatal(err)
		}
	}
}
