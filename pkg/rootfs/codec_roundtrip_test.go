//go:build linux

package rootfs

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gantry-build/gantry/internal/treetest"
	"golang.org/x/sys/unix"
)

// A tree of every kind of entry, written as a layer by the changeset
// writer and unpacked by Apply into an empty folder, comes back whole:
// types, modes with setuid, setgid and sticky, owners, content, link
// targets, hard links, device numbers, xattrs and nanosecond mtimes.
func TestLayerRoundTripKeepsEveryEntry(t *testing.T) {
	tree, empty, out := t.TempDir(), t.TempDir(), t.TempDir()
	treetest.Make(t, tree)
	var layer bytes.Buffer
	if err := WriteChanges(&layer, empty, tree, ChangeOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := Apply(out, &layer); err != nil {
		t.Fatal(err)
	}
	want := treetest.Describe(t, tree, treetest.Options{})
	if len(want) < 25 {
		t.Fatalf("test setup: the tree has %d entries", len(want))
	}
	treetest.Equal(t, want, treetest.Describe(t, out, treetest.Options{}))
}

// changeTree turns a copy of treetest's tree into another: files added,
// changed (content, mode, xattrs, owner), deleted, and paths whose type
// changes (file → folder, folder → file, folder → symlink).
func changeTree(t *testing.T, dir string) {
	t.Helper()
	p := func(name string) string { return filepath.Join(dir, name) }
	check := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	check(os.WriteFile(p("added"), []byte("new"), 0o644))
	check(os.MkdirAll(p("new-dir/below"), 0o751))
	check(os.WriteFile(p("new-dir/below/file"), []byte("deep"), 0o600))
	check(os.WriteFile(p("empty"), []byte("no longer empty"), 0o644))
	check(os.Chmod(p("mode-odd"), 0o4555))
	check(unix.Lsetxattr(p("xattr-user"), "user.gantry.test", []byte("changed"), 0))
	check(unix.Lremovexattr(p("xattr-user"), "user.empty"))
	check(os.Remove(p("sticky")))
	check(os.Remove(p("link-dangling")))
	// file → folder
	check(os.Remove(p("setgid")))
	check(os.Mkdir(p("setgid"), 0o700))
	check(os.WriteFile(p("setgid/inside"), []byte("was a file"), 0o644))
	// folder → file
	check(os.RemoveAll(p("dir-odd")))
	check(os.WriteFile(p("dir-odd"), []byte("was a folder"), 0o640))
	// folder → symlink
	check(os.RemoveAll(p("dir-sticky")))
	check(os.Symlink("new-dir/below", p("dir-sticky")))
	if treetest.Root() {
		check(os.Lchown(p("capable"), 33, 33))
		check(os.Chmod(p("capable"), 0o755))
	}
	// Times apart from what the tree had, with nanoseconds.
	for i, name := range []string{"added", "new-dir/below/file", "new-dir/below", "new-dir", "empty", "setgid/inside", "setgid", "dir-odd", "dir-sticky"} {
		ts := unix.NsecToTimespec(time.Date(2024, 1, 2, 3, 4, 5, 987654321, time.UTC).Add(time.Duration(i) * time.Minute).UnixNano())
		check(unix.UtimesNanoAt(unix.AT_FDCWD, p(name), []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW))
	}
}

// A changeset between two trees, applied to the first, gives the second:
// whiteouts delete, replaced paths change type, changed metadata is
// carried. Both changeset writers: comparing two trees, and a snapshot of
// one tree before and after.
func TestChangesetRoundTrip(t *testing.T) {
	before := t.TempDir()
	treetest.Make(t, before)
	after := t.TempDir()
	copyTree(t, before, after)
	changeTree(t, after)
	want := treetest.Describe(t, after, treetest.Options{})

	t.Run("compare", func(t *testing.T) {
		var layer bytes.Buffer
		if err := WriteChanges(&layer, before, after, ChangeOptions{}); err != nil {
			t.Fatal(err)
		}
		got := t.TempDir()
		copyTree(t, before, got)
		if err := Apply(got, &layer); err != nil {
			t.Fatal(err)
		}
		treetest.Equal(t, want, treetest.Describe(t, got, treetest.Options{}))
	})
	t.Run("snapshot", func(t *testing.T) {
		root := t.TempDir()
		copyTree(t, before, root)
		snap, err := TakeSnapshot(root, nil)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond) // a ctime tick apart
		changeTree(t, root)
		var layer bytes.Buffer
		if _, err := WriteSnapshotChanges(&layer, snap, nil, ChangeOptions{}); err != nil {
			t.Fatal(err)
		}
		got := t.TempDir()
		copyTree(t, before, got)
		if err := Apply(got, &layer); err != nil {
			t.Fatal(err)
		}
		treetest.Equal(t, want, treetest.Describe(t, got, treetest.Options{}))
	})
}

// An overlayfs upper folder's changeset, applied to the lower, gives what
// the overlay showed: a 0/0 character device deletes, an opaque folder
// hides everything the lower had in it.
func TestOverlayChangesetRoundTrip(t *testing.T) {
	lower := t.TempDir()
	treetest.Make(t, lower)
	upper := t.TempDir()
	check := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// What the overlay's upper holds after: rm sticky; rm -r dir-odd;
	// mkdir dir-odd; echo > dir-odd/fresh; echo > added.
	if err := unix.Mknod(filepath.Join(upper, "sticky"), unix.S_IFCHR, 0); err != nil {
		t.Skipf("making a whiteout (0/0 character device) needs root: %v", err)
	}
	check(os.Mkdir(filepath.Join(upper, "dir-odd"), 0o705))
	check(unix.Lsetxattr(filepath.Join(upper, "dir-odd"), "user.overlay.opaque", []byte("y"), 0))
	check(os.WriteFile(filepath.Join(upper, "dir-odd/fresh"), []byte("fresh"), 0o644))
	check(os.WriteFile(filepath.Join(upper, "added"), []byte("added"), 0o644))
	var layer bytes.Buffer
	if err := WriteChanges(&layer, lower, upper, ChangeOptions{Overlay: true}); err != nil {
		t.Fatal(err)
	}
	got := t.TempDir()
	copyTree(t, lower, got)
	if err := Apply(got, &layer); err != nil {
		t.Fatal(err)
	}
	// The merged view, made by hand.
	want := t.TempDir()
	copyTree(t, lower, want)
	check(os.Remove(filepath.Join(want, "sticky")))
	check(os.RemoveAll(filepath.Join(want, "dir-odd")))
	check(os.Mkdir(filepath.Join(want, "dir-odd"), 0o705))
	copyTree(t, filepath.Join(upper, "dir-odd"), filepath.Join(want, "dir-odd"))
	check(unix.Lremovexattr(filepath.Join(want, "dir-odd"), "user.overlay.opaque"))
	check(os.WriteFile(filepath.Join(want, "added"), []byte("added"), 0o644))
	fi, err := os.Stat(filepath.Join(upper, "added"))
	check(err)
	check(os.Chtimes(filepath.Join(want, "added"), fi.ModTime(), fi.ModTime()))
	o := treetest.Options{NoDirMtime: true}
	treetest.Equal(t, treetest.Describe(t, want, o), treetest.Describe(t, got, o))
}
