package build

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// docker build's standard-input forms: -f - with a folder, - with a
// Dockerfile, - with a context tar; both at once is refused.
func TestStdinInputs(t *testing.T) {
	df := "FROM scratch\nCOPY a.txt /\n"

	ctx, file, err := StdinInputs(strings.NewReader(df), "some/dir", "-", t.TempDir())
	if b, _ := os.ReadFile(file); err != nil || ctx != "some/dir" || string(b) != df {
		t.Errorf("-f -: %q %q %v (%q)", ctx, file, err, b)
	}

	ctx, file, err = StdinInputs(strings.NewReader(df), "-", "", t.TempDir())
	entries, _ := os.ReadDir(ctx)
	if b, _ := os.ReadFile(file); err != nil || len(entries) != 0 || string(b) != df {
		t.Errorf("- with a Dockerfile: %q %q %v, context %v", ctx, file, err, entries)
	}

	var tarball bytes.Buffer
	tw := tar.NewWriter(&tarball)
	for name, body := range map[string]string{"Dockerfile": df, "a.txt": "a"} {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
		tw.Write([]byte(body))
	}
	tw.Close()
	ctx, file, err = StdinInputs(&tarball, "-", "", t.TempDir())
	if b, _ := os.ReadFile(filepath.Join(ctx, "a.txt")); err != nil || string(b) != "a" || file != filepath.Join(ctx, "Dockerfile") {
		t.Errorf("- with a context tar: %q %q %v", ctx, file, err)
	}

	if _, _, err := StdinInputs(strings.NewReader(df), "-", "-", t.TempDir()); err == nil {
		t.Error("both from standard input was accepted")
	}
}
