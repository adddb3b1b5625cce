//go:build linux || darwin

package rootfs

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// fingerprint describes a tree: one line per path with type, mode, owner,
// link target and content hash.
func fingerprint(t *testing.T, root string) string {
	t.Helper()
	var lines []string
	walkSorted(root, func(rel string, fi fs.FileInfo) error {
		line := fmt.Sprintf("%s %v", rel, fi.Mode())
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			l, _ := os.Readlink(filepath.Join(root, rel))
			line += " -> " + l
		case fi.Mode().IsRegular():
			b, _ := os.ReadFile(filepath.Join(root, rel))
			line += fmt.Sprintf(" %x", sha256.Sum256(b))
		}
		lines = append(lines, line)
		return nil
	})
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func write(t *testing.T, p, body string) {
	t.Helper()
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func copyTree(t *testing.T, from, to string) {
	t.Helper()
	if out, err := exec.Command("cp", "-a", from+"/.", to).CombinedOutput(); err != nil {
		t.Fatalf("cp -a: %v %s", err, out)
	}
}

func lowerTree(t *testing.T) string {
	lower := t.TempDir()
	write(t, filepath.Join(lower, "etc/keep"), "keep")
	write(t, filepath.Join(lower, "etc/change"), "old")
	write(t, filepath.Join(lower, "etc/remove"), "bye")
	write(t, filepath.Join(lower, "var/lib/a"), "a")
	write(t, filepath.Join(lower, "var/lib/b"), "b")
	write(t, filepath.Join(lower, "opt/replace/x"), "x")
	return lower
}

func TestCompareChangesApplyBackToUpper(t *testing.T) {
	lower := lowerTree(t)
	upper := t.TempDir()
	copyTree(t, lower, upper)
	write(t, filepath.Join(upper, "etc/change"), "new content")
	os.Remove(filepath.Join(upper, "etc/remove"))
	os.RemoveAll(filepath.Join(upper, "var/lib"))
	os.RemoveAll(filepath.Join(upper, "opt/replace"))
	write(t, filepath.Join(upper, "opt/replace/y"), "y")
	write(t, filepath.Join(upper, "new/file"), "added")
	os.Symlink("../etc/keep", filepath.Join(upper, "new/link"))
	os.Link(filepath.Join(upper, "new/file"), filepath.Join(upper, "new/hard"))
	os.Chmod(filepath.Join(upper, "etc/keep"), 0o600) // metadata-only change

	var buf bytes.Buffer
	if err := WriteChanges(&buf, lower, upper, ChangeOptions{}); err != nil {
		t.Fatal(err)
	}
	names := tarNames(t, buf.Bytes())
	for _, want := range []string{"etc/.wh.remove", "var/.wh.lib", "etc/change", "etc/keep", "new/hard"} {
		if !strings.Contains(names, want) {
			t.Errorf("changeset lacks %s:\n%s", want, names)
		}
	}
	if strings.Contains(names, "var/lib/a") || strings.Contains(names, "var/lib/.wh.a") {
		t.Errorf("children of a deleted directory listed:\n%s", names)
	}
	result := t.TempDir()
	copyTree(t, lower, result)
	if err := Apply(result, bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	if got, want := fingerprint(t, result), fingerprint(t, upper); got != want {
		t.Errorf("lower + changes != upper\ngot:\n%s\nwant:\n%s", got, want)
	}
}

func tarNames(t *testing.T, b []byte) string {
	t.Helper()
	var names []string
	tr := tarReader(b)
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		names = append(names, h.Name)
	}
	return strings.Join(names, "\n")
}

func TestOverlayUpperBecomesWhiteouts(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to make 0/0 character devices and trusted.* xattrs (CI runs it as root)")
	}
	lower := lowerTree(t)
	upper := t.TempDir()
	// What overlayfs leaves after: rm etc/remove; rm -r var/lib; rm -r
	// opt/replace && mkdir opt/replace && echo y > opt/replace/y; echo > new/file.
	os.MkdirAll(filepath.Join(upper, "etc"), 0o755)
	if err := unix.Mknod(filepath.Join(upper, "etc/remove"), unix.S_IFCHR, 0); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(upper, "var"), 0o755)
	unix.Mknod(filepath.Join(upper, "var/lib"), unix.S_IFCHR, 0)
	write(t, filepath.Join(upper, "opt/replace/y"), "y")
	if err := unix.Lsetxattr(filepath.Join(upper, "opt/replace"), "trusted.overlay.opaque", []byte("y"), 0); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(upper, "new/file"), "added")

	var buf bytes.Buffer
	if err := WriteChanges(&buf, lower, upper, ChangeOptions{Overlay: true}); err != nil {
		t.Fatal(err)
	}
	names := tarNames(t, buf.Bytes())
	for _, want := range []string{"etc/.wh.remove", "var/.wh.lib", "opt/replace/.wh..wh..opq", "opt/replace/y", "new/file"} {
		if !strings.Contains(names, want) {
			t.Errorf("changeset lacks %s:\n%s", want, names)
		}
	}
	if strings.Contains(names, "etc/remove\n") {
		t.Error("the 0/0 device itself was written")
	}
	result := t.TempDir()
	copyTree(t, lower, result)
	if err := Apply(result, bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]bool{"etc/remove": false, "var/lib": false, "opt/replace/x": false, "opt/replace/y": true, "etc/keep": true, "new/file": true} {
		_, err := os.Lstat(filepath.Join(result, p))
		if (err == nil) != want {
			t.Errorf("%s exists = %v, want %v", p, err == nil, want)
		}
	}
	if x := ReadXattrs(filepath.Join(result, "opt/replace")); x["trusted.overlay.opaque"] != "" {
		t.Error("the overlay opaque xattr leaked into the layer")
	}
}

func tarReader(b []byte) *tar.Reader { return tar.NewReader(bytes.NewReader(b)) }
