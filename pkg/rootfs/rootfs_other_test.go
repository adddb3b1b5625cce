//go:build !linux && !darwin

package rootfs

import (
	"bytes"
	"errors"
	"os"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
)

// Without Unix files, every way to make or read a folder of an image's
// files says ErrNeedsUnix, and makes nothing.
func TestFoldersNeedUnix(t *testing.T) {
	dir := t.TempDir()
	var buf bytes.Buffer
	for name, err := range map[string]error{
		"Apply":        Apply(dir, bytes.NewReader(nil)),
		"LinkTree":     LinkTree(dir, dir+"-link"),
		"CopyTree":     CopyTree(dir, dir+"-copy"),
		"WriteChanges": WriteChanges(&buf, dir, dir, ChangeOptions{}),
	} {
		if !errors.Is(err, ErrNeedsUnix) {
			t.Errorf("%s: %v, want ErrNeedsUnix", name, err)
		}
	}
	if buf.Len() != 0 {
		t.Errorf("WriteChanges wrote %d bytes", buf.Len())
	}
	if _, err := os.Stat(dir + "-copy"); err == nil {
		t.Error("CopyTree made its destination")
	}
}

// An image without layers needs no unpacking: its root filesystem is an
// empty folder (FROM scratch); one with layers says ErrNeedsUnix.
func TestCacheOfScratchNeedsNoUnix(t *testing.T) {
	c := NewCache(t.TempDir())
	dir, err := c.Get(empty.Image)
	if err != nil {
		t.Fatal(err)
	}
	if entries, err := os.ReadDir(dir); err != nil || len(entries) != 0 {
		t.Errorf("scratch's folder: %v, %v", entries, err)
	}
	l, err := random.Layer(64, "application/vnd.oci.image.layer.v1.tar")
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, l)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(img); !errors.Is(err, ErrNeedsUnix) {
		t.Errorf("an image with a layer: %v, want ErrNeedsUnix", err)
	}
}
