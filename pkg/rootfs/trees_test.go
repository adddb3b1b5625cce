//go:build linux || darwin

package rootfs

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gantry-build/gantry/internal/treetest"
)

// Between two trees of the rootfs cache (ChangeOptions.Trees) a file both
// share is passed over, a file replaced with one of the same size and mtime
// but other content is in the changeset, and so is one whose owner only
// OwnerXattr records; what the upper tree lost is whited out, top-most only.
// Applied on the lower tree, the changeset makes the upper one.
func TestTreeChangesBetweenCacheTrees(t *testing.T) {
	lower, upper := t.TempDir(), t.TempDir()
	same := time.Unix(1000, 0)
	for _, f := range []string{"shared", "replaced", "owner", "gone/a", "gone/b", "dir/deleted", "dir/kept"} {
		write(t, filepath.Join(lower, f), "body-"+filepath.Base(f))
		os.Chtimes(filepath.Join(lower, f), same, same)
	}
	for _, d := range []string{"gone", "dir"} {
		os.Chtimes(filepath.Join(lower, d), same, same)
	}
	if err := LinkTree(lower, upper); err != nil {
		t.Fatal(err)
	}
	// A later layer replaced "replaced" (new inode, same size and mtime)
	// and set "owner"'s owner where chown was not possible.
	os.Remove(filepath.Join(upper, "replaced"))
	write(t, filepath.Join(upper, "replaced"), "BODY-replaced")
	os.Chtimes(filepath.Join(upper, "replaced"), same, same)
	os.Remove(filepath.Join(upper, "owner"))
	write(t, filepath.Join(upper, "owner"), "body-owner")
	os.Chtimes(filepath.Join(upper, "owner"), same, same)
	if err := unix.Lsetxattr(filepath.Join(upper, "owner"), OwnerXattr, []byte("7:8"), 0); err != nil {
		t.Skipf("no user xattrs on this filesystem: %v", err)
	}
	os.RemoveAll(filepath.Join(upper, "gone"))
	os.Remove(filepath.Join(upper, "dir/deleted"))
	os.Chtimes(filepath.Join(upper, "dir"), same, same)

	var buf bytes.Buffer
	if err := WriteChanges(&buf, lower, upper, ChangeOptions{Trees: true}); err != nil {
		t.Fatal(err)
	}
	var names []string
	owners := map[string]int{}
	treetest.EachInTar(t, bytes.NewReader(buf.Bytes()), func(h *tar.Header, _ []byte) {
		names = append(names, h.Name)
		owners[h.Name] = h.Uid*100 + h.Gid
	})
	sort.Strings(names)
	if got, want := strings.Join(names, " "), ".wh.gone dir/.wh.deleted owner replaced"; got != want {
		t.Errorf("changeset %q, want %q", got, want)
	}
	if owners["owner"] != 708 {
		t.Errorf("owner recorded in %s: the layer says %d:%d, want 7:8", OwnerXattr, owners["owner"]/100, owners["owner"]%100)
	}
	applied := t.TempDir()
	copyTree(t, lower, applied)
	if err := Apply(applied, bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	if got, want := fingerprint(t, applied), fingerprint(t, upper); got != want {
		t.Errorf("lower + changeset:\n%s\nupper:\n%s", got, want)
	}
}
