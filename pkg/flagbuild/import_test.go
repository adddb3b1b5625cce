//go:build linux

package flagbuild

import (
	"context"
	"testing"
	"time"

	"github.com/gantry-build/gantry/internal/testenv"
	"github.com/gantry-build/gantry/internal/treetest"
	"github.com/gantry-build/gantry/pkg/rootfs"
)

// gantry import of a folder, unpacked again, gives the folder back: every
// kind of entry, owners, device nodes, setuid bits and xattrs (a root
// filesystem's /bin/ping keeps its security.capability); times are the
// import's.
func TestImportOfAFolderRoundTrips(t *testing.T) {
	tree := t.TempDir()
	treetest.Make(t, tree)
	created := time.Unix(1700000000, 0)
	img, err := Import(context.Background(), testenv.Store(t), ImportOptions{Source: tree, Created: created})
	if err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers: %d, %v", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	out := t.TempDir()
	if err := rootfs.Apply(out, rc); err != nil {
		t.Fatal(err)
	}
	o := treetest.Options{NoMtime: true}
	treetest.Equal(t, treetest.Describe(t, tree, o), treetest.Describe(t, out, o))
}
