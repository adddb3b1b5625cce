//go:build unix

package layer

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A root filesystem's fifos and device nodes go into its layer with
// Devices (gantry import of a folder); without, they are an error.
func TestDevicesOfARootFilesystem(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "f"), []byte("f"), 0o644)
	if err := syscall.Mkfifo(filepath.Join(dir, "pipe"), 0o600); err != nil {
		t.Fatal(err)
	}
	o := Options{Time: time.Unix(0, 0)}
	if _, err := Collect([]Add{{Src: dir, Dest: "/"}}, o); err == nil || !strings.Contains(err.Error(), "cannot hold") {
		t.Errorf("a fifo without Devices: %v", err)
	}
	o.Devices = true
	entries, err := Collect([]Add{{Src: dir, Dest: "/"}}, o)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Write(&buf, entries, o); err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(&buf)
	found := false
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Name == "pipe" {
			found = h.Typeflag == tar.TypeFifo && h.Mode == 0o600
		}
	}
	if !found {
		t.Error("the fifo is not in the layer as a fifo")
	}
}

// The folder an --add names is followed when it is a link, as COPY follows
// its source: its files are added, not an empty folder.
func TestCollectFollowsALinkedSourceFolder(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "real", "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "real", "sub", "f"), []byte("f"), 0o644)
	if err := os.Symlink("real", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	hdrs, _ := entriesOf(t, []Add{{Src: filepath.Join(dir, "link"), Dest: "/x"}}, Options{})
	if h, ok := hdrs["x/sub/f"]; !ok || h.Typeflag != tar.TypeReg {
		t.Errorf("x/sub/f is not a file of the layer: %v", keys(hdrs))
	}
}
