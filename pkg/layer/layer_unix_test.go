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
