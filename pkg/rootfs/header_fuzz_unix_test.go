//go:build linux || darwin

package rootfs

import (
	"archive/tar"
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fuzzApplied makes the file want describes with Apply (named "f", in a
// folder of its own) and reads it back through the codec: the metadata the
// file can hold comes back as written. Hard links (no target) are left
// out, and so is what only root may set when the test is not root.
func fuzzApplied(t *testing.T, layer []byte, want Meta, body []byte) {
	t.Helper()
	root := os.Geteuid() == 0
	if want.HardLink || (want.Mode&fs.ModeDevice != 0 && !root) {
		return
	}
	want.Name = "f"
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(want.Header()); err != nil {
		t.Fatal(err)
	}
	tw.Write(body[:want.Size])
	tw.Close()
	dir := t.TempDir()
	err := Apply(dir, &buf)
	// The kernel may refuse an xattr (a name it does not know, a value
	// out of form), and no filesystem holds a symlink to "": Apply says
	// so. Nothing else may fail.
	if err != nil {
		if len(want.Xattrs) > 0 && strings.Contains(err.Error(), "xattr") {
			return
		}
		if want.Mode&fs.ModeSymlink != 0 && want.Link == "" && strings.Contains(err.Error(), "symlink without a target") {
			return
		}
		t.Fatalf("Apply of %+v: %v", want, err)
	}
	p := filepath.Join(dir, "f")
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	link, _ := os.Readlink(p)
	got, err := MetaFromInfo(fi, "f", link)
	if err != nil {
		t.Fatal(err)
	}
	symlink := want.Mode&fs.ModeSymlink != 0
	if got.Mode.Type() != want.Mode.Type() {
		t.Fatalf("type %v made %v", want.Mode.Type(), got.Mode.Type())
	}
	bits := fs.ModePerm
	if root {
		bits = permBits // without root, the kernel clears setgid for a group not ours
	}
	if !symlink && got.Mode&bits != want.Mode&bits {
		t.Fatalf("mode %v made %v", want.Mode, got.Mode)
	}
	if root && (got.UID != want.UID || got.GID != want.GID) {
		t.Fatalf("owner %d:%d made %d:%d", want.UID, want.GID, got.UID, got.GID)
	}
	if got.Size != want.Size || got.Link != want.Link || got.Devmajor != want.Devmajor || got.Devminor != want.Devminor {
		t.Fatalf("size, link or device %d %q %d:%d made %d %q %d:%d", want.Size, want.Link, want.Devmajor, want.Devminor, got.Size, got.Link, got.Devmajor, got.Devminor)
	}
	if fi.Mode().IsRegular() {
		if b, _ := os.ReadFile(p); !bytes.Equal(b, body[:want.Size]) {
			t.Fatalf("content %q made %q", body[:want.Size], b)
		}
	}
	// Filesystems keep times from 1901 to 2446 (ext4); beyond, the kernel
	// clamps them.
	if s := want.ModTime.Unix(); s > -1<<31 && s < 1<<33 && !got.ModTime.Equal(want.ModTime) {
		t.Fatalf("mtime %v made %v", want.ModTime, got.ModTime)
	}
	// user.* xattrs are every filesystem's and every user's to set, on
	// files and folders (not symlinks); others may be refused quietly
	// (trusted.* without root), as Docker refuses them.
	if fi.Mode().IsRegular() || fi.IsDir() {
		have := ReadXattrs(p)
		for k, v := range want.Xattrs {
			if strings.HasPrefix(k, "user.") && have[k] != v {
				t.Fatalf("xattr %s=%q made %q", k, v, have[k])
			}
		}
	}
}
