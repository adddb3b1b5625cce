//go:build linux

package rootfs

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gantry-build/gantry/internal/treetest"
)

// The changeset writers' bytes for a tree of every kind of entry, pinned:
// the tar codec they share must not move a layer digest (a cached build
// would miss, a reproducible one would change). The digests were taken
// with the writers as they were before the codec; as root, the tree also
// has devices, owners and security.capability.
func TestChangesetBytesArePinned(t *testing.T) {
	want := map[string]string{
		"compare":  "5d9bbf148f8c43630d32811daf3fa101f5a0aa0e757ae64946f86b321400dabf",
		"overlay":  "8e528f5fbc1e9ae97143c1424e7dce47ef5e820b3eadd79751c37ffb87e383ae",
		"snapshot": "70bbcc7488bf5e7c187e64a7fc72e7cf79006a684ea96d11e9ba37d7605a6cc8",
	}
	if !treetest.Root() {
		t.Skip("the pinned digests are those of the tree root makes (CI runs as root)")
	}
	tree, empty := t.TempDir(), t.TempDir()
	treetest.Make(t, tree)
	got := map[string]string{}
	var buf bytes.Buffer
	if err := WriteChanges(&buf, empty, tree, ChangeOptions{}); err != nil {
		t.Fatal(err)
	}
	got["compare"] = fmt.Sprintf("%x", sha256.Sum256(buf.Bytes()))
	buf.Reset()
	if err := WriteChanges(&buf, empty, tree, ChangeOptions{Overlay: true, RootOwned: true}); err != nil {
		t.Fatal(err)
	}
	got["overlay"] = fmt.Sprintf("%x", sha256.Sum256(buf.Bytes()))

	// A snapshot of part of the tree, then the rest made: the changeset
	// has whiteouts, changed entries and empty folders.
	root := t.TempDir()
	treetest.Make(t, root)
	before, err := TakeSnapshot(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(root, "sticky"))
	os.RemoveAll(filepath.Join(root, "dir-odd"))
	os.Chmod(filepath.Join(root, "mode-odd"), 0o4711)
	os.Chtimes(filepath.Join(root, "mode-odd"), before.mtime(t, "mode-odd"), before.mtime(t, "mode-odd"))
	buf.Reset()
	if _, err := WriteSnapshotChanges(&buf, before, nil, ChangeOptions{EmptyDirs: []string{"proc", "sys"}}); err != nil {
		t.Fatal(err)
	}
	got["snapshot"] = fmt.Sprintf("%x", sha256.Sum256(buf.Bytes()))
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: the layer's sha256 is %s, was %s", k, got[k], w)
		}
	}
}

func (s *Snapshot) mtime(t *testing.T, rel string) time.Time {
	st, ok := s.paths[rel]
	if !ok {
		t.Fatalf("%s is not in the snapshot", rel)
	}
	return time.Unix(st.mtime.Sec, st.mtime.Nsec)
}
