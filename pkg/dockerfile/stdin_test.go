package dockerfile

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

// A context tar from standard input makes files, folders and links only:
// no device nodes, no owners, no setuid bits, nothing outside the folder.
func TestStdinContextTarIsTamed(t *testing.T) {
	var tarball bytes.Buffer
	tw := tar.NewWriter(&tarball)
	tw.WriteHeader(&tar.Header{Name: "Dockerfile", Mode: 0o4755, Size: 11, Typeflag: tar.TypeReg, Uid: 1234})
	tw.Write([]byte("FROM scratch"[:11]))
	tw.WriteHeader(&tar.Header{Name: "null", Mode: 0o666, Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3})
	tw.WriteHeader(&tar.Header{Name: "../escape", Mode: 0o644, Typeflag: tar.TypeReg})
	tw.Close()
	dir := t.TempDir()
	_, _, err := StdinInputs(&tarball, "-", "", dir)
	if err == nil || !strings.Contains(err.Error(), "escape") {
		t.Errorf("a tar entry outside the context: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "context", "null")); err == nil {
		t.Error("a device node was made")
	}
	fi, err := os.Stat(filepath.Join(dir, "context", "Dockerfile"))
	if err != nil || fi.Mode()&os.ModeSetuid != 0 {
		t.Errorf("Dockerfile: %v %v", fi, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "escape")); err == nil {
		t.Error("an entry escaped the context")
	}
}
