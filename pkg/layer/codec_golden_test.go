//go:build linux

package layer

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gantry-build/gantry/internal/treetest"
)

// The bytes Write makes of a tree of every kind of entry, pinned: the tar
// codec shared with the changeset writers must not move a layer digest.
// The digests were taken with Write as it was before the codec.
func TestLayerBytesArePinned(t *testing.T) {
	want := map[string]string{
		"import": "bf403509ad36e410a1fd99d181ae38cb0ccef7d8f3a1c74dde0303ab599bd1f9",
		"add":    "42fa2177521ecb7db21e50fe5a791a1cba4a761aeea4a65f3e3c008843ecb842",
		"chmod":  "ac719114560c6171e235bf26a03fac0cc9e4fc376b0f621ddbb6e1e20fae945f",
	}
	if !treetest.Root() {
		t.Skip("the pinned digests are those of the tree root makes (CI runs as root)")
	}
	tree := t.TempDir()
	treetest.Make(t, tree)
	got := map[string]string{}
	layerOf := func(name string, o Options) {
		t.Helper()
		entries, err := Collect([]Add{{Src: tree, Dest: "/"}}, o)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := Write(&buf, entries, o); err != nil {
			t.Fatal(err)
		}
		got[name] = fmt.Sprintf("%x", sha256.Sum256(buf.Bytes()))
	}
	layerOf("import", Options{Time: time.Unix(1700000000, 0), KeepOwners: true, Devices: true})
	// A flag build's --add holds no fifos or device nodes.
	for _, n := range []string{"fifo", "char-null", "block-loop"} {
		os.Remove(filepath.Join(tree, n))
	}
	layerOf("add", Options{UID: 1000, GID: 1000, Time: time.Unix(0, 0)})
	mode := fs.FileMode(0o750)
	layerOf("chmod", Options{Mode: &mode, Time: time.Unix(0, 0)})
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: the layer's sha256 is %s, was %s", k, got[k], w)
		}
	}
}
