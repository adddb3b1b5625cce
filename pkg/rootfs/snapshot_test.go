//go:build linux || darwin

package rootfs

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A snapshot's changeset, applied to the tree as it was, gives the tree as
// it is: content changed without a change of size or mtime is caught (by
// ctime), and so are deletions, metadata-only changes and new links; what
// skip names is left out.
func TestSnapshotChangesApplyBack(t *testing.T) {
	root := lowerTree(t)
	write(t, filepath.Join(root, "skipped/secret"), "never in a layer")
	skip := func(rel string) bool { return rel == "skipped" }
	before, err := TakeSnapshot(root, skip)
	if err != nil {
		t.Fatal(err)
	}
	was := t.TempDir()
	copyTree(t, root, was)
	os.RemoveAll(filepath.Join(was, "skipped"))

	time.Sleep(10 * time.Millisecond) // a ctime tick apart
	// Same size, same mtime, new content: only ctime tells.
	p := filepath.Join(root, "etc/change")
	fi, _ := os.Stat(p)
	os.WriteFile(p, []byte("NEW"), 0o644)
	os.Chtimes(p, fi.ModTime(), fi.ModTime())
	os.Remove(filepath.Join(root, "etc/remove"))
	os.RemoveAll(filepath.Join(root, "var/lib"))
	os.RemoveAll(filepath.Join(root, "opt/replace"))
	write(t, filepath.Join(root, "opt/replace"), "a file where a folder was")
	write(t, filepath.Join(root, "new/file"), "added")
	os.Symlink("../etc/keep", filepath.Join(root, "new/link"))
	os.Link(filepath.Join(root, "new/file"), filepath.Join(root, "new/hard"))
	os.Chmod(filepath.Join(root, "etc/keep"), 0o600)
	write(t, filepath.Join(root, "skipped/other"), "also never")

	var buf bytes.Buffer
	after, err := WriteSnapshotChanges(&buf, before, skip, ChangeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	names := tarNames(t, buf.Bytes())
	for _, want := range []string{"etc/change", "etc/.wh.remove", "var/.wh.lib", "etc/keep", "new/hard"} {
		if !strings.Contains(names, want) {
			t.Errorf("changeset lacks %s:\n%s", want, names)
		}
	}
	for _, never := range []string{"skipped", "var/lib/a", "etc/.wh.keep"} {
		if strings.Contains(names, never) {
			t.Errorf("changeset has %s:\n%s", never, names)
		}
	}
	if err := Apply(was, bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(filepath.Join(root, "skipped"))
	if got, want := fingerprint(t, was), fingerprint(t, root); got != want {
		t.Errorf("before + changes != after\ngot:\n%s\nwant:\n%s", got, want)
	}
	// The returned snapshot is the next "before": nothing changed since.
	buf.Reset()
	if _, err := WriteSnapshotChanges(&buf, after, skip, ChangeOptions{}); err != nil {
		t.Fatal(err)
	}
	if names := tarNames(t, buf.Bytes()); names != "" {
		t.Errorf("an unchanged tree gave changes:\n%s", names)
	}
}

// Sync makes dst what src is, owners, modes, links and devices included,
// and leaves alone what skip names.
func TestSyncMakesTreesEqual(t *testing.T) {
	src, dst := lowerTree(t), t.TempDir()
	write(t, filepath.Join(src, "bin/tool"), "#!/bin/sh\n")
	os.Chmod(filepath.Join(src, "bin/tool"), 0o4755)
	os.Chmod(filepath.Join(src, "etc"), 0o700)
	os.Symlink("tool", filepath.Join(src, "bin/alias"))
	os.Link(filepath.Join(src, "bin/tool"), filepath.Join(src, "bin/hard"))
	syscall.Mkfifo(filepath.Join(src, "fifo"), 0o600)
	os.Lchown(filepath.Join(src, "etc/keep"), 1000, 1000)
	// dst has stale, different and extra things, and a skipped folder.
	write(t, filepath.Join(dst, "etc/keep"), "stale content, other size")
	write(t, filepath.Join(dst, "bin/tool/inside"), "a folder where src has a file")
	write(t, filepath.Join(dst, "extra/file"), "not in src")
	write(t, filepath.Join(dst, "workspace/ctx"), "the user's build context")

	keep := PathSet{"workspace"}
	if err := Sync(dst, src, keep); err != nil {
		t.Fatal(err)
	}
	ws, err := os.ReadFile(filepath.Join(dst, "workspace/ctx"))
	if err != nil || string(ws) != "the user's build context" {
		t.Errorf("a skipped folder was touched: %q %v", ws, err)
	}
	os.RemoveAll(filepath.Join(dst, "workspace"))
	if got, want := owners(t, dst)+fingerprint(t, dst), owners(t, src)+fingerprint(t, src); got != want {
		t.Errorf("dst != src after Sync\ngot:\n%s\nwant:\n%s", got, want)
	}
	a, _ := os.Stat(filepath.Join(dst, "bin/tool"))
	b, _ := os.Stat(filepath.Join(dst, "bin/hard"))
	if !os.SameFile(a, b) {
		t.Error("a hard link became two files")
	}
	// A second sync of equal trees changes nothing.
	before, _ := TakeSnapshot(dst, nil)
	if err := Sync(dst, src, keep); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := WriteSnapshotChanges(&buf, before, nil, ChangeOptions{}); err != nil {
		t.Fatal(err)
	}
	if names := tarNames(t, buf.Bytes()); names != "" {
		t.Errorf("syncing equal trees rewrote:\n%s", names)
	}
}

func owners(t *testing.T, root string) string {
	var b strings.Builder
	walkSorted(root, func(rel string, fi os.FileInfo) error {
		st := fi.Sys().(*syscall.Stat_t)
		fmt.Fprintf(&b, "%s %d:%d\n", rel, st.Uid, st.Gid)
		return nil
	})
	return b.String()
}

// A folder holding a kept path (a volume mounted in the container) is not
// removed when the image has something else there: the rest of it goes and
// the error says what could not be laid.
func TestSyncKeepsFoldersHoldingKeptPaths(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	os.MkdirAll(filepath.Join(src, "run"), 0o755)
	os.Symlink("/run", filepath.Join(src, "var"))
	write(t, filepath.Join(dst, "var/run/secrets/token"), "mounted")
	write(t, filepath.Join(dst, "var/other"), "goes")
	err := Sync(dst, src, PathSet{"var/run/secrets"})
	if err == nil || !strings.Contains(err.Error(), "var cannot be laid") {
		t.Errorf("err = %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dst, "var/run/secrets/token")); string(b) != "mounted" {
		t.Error("the kept path was removed")
	}
	if _, err := os.Stat(filepath.Join(dst, "var/other")); err == nil {
		t.Error("the rest of the folder stayed")
	}
}

// CopyTree is cp -a: the top folder's mode and owner too (a 0700 copy of a
// root filesystem locked every user but root out of it).
func TestCopyTreeKeepsTheTopFolder(t *testing.T) {
	src := lowerTree(t)
	os.Chmod(src, 0o755)
	os.Link(filepath.Join(src, "etc/keep"), filepath.Join(src, "etc/keep2"))
	dst := filepath.Join(t.TempDir(), "copy")
	if err := CopyTree(src, dst); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(dst); fi.Mode().Perm() != 0o755 {
		t.Errorf("top folder %v, want 0755", fi.Mode())
	}
	if got, want := owners(t, dst)+fingerprint(t, dst), owners(t, src)+fingerprint(t, src); got != want {
		t.Errorf("copy differs\ngot:\n%s\nwant:\n%s", got, want)
	}
	linked := filepath.Join(t.TempDir(), "linked")
	if err := LinkTree(src, linked); err != nil {
		t.Fatal(err)
	}
	a, _ := os.Stat(filepath.Join(src, "etc/keep"))
	b, _ := os.Stat(filepath.Join(linked, "etc/keep"))
	if !os.SameFile(a, b) {
		t.Error("LinkTree copied a file instead of linking it")
	}
}
