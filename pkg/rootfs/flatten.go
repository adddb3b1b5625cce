package rootfs

import (
	"fmt"
	"io"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// Flatten streams the image's root filesystem as one tar: every layer,
// whiteouts applied, whiteout files themselves left out.
func Flatten(img v1.Image) io.ReadCloser { return mutate.Extract(img) }

// Unpack applies the image's layers in order onto dir, which is created if
// needed.
func Unpack(img v1.Image, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	for i, l := range layers {
		if err := applyLayer(dir, l); err != nil {
			d, _ := l.Digest()
			return fmt.Errorf("layer %d/%d (%s): %w", i+1, len(layers), d, err)
		}
	}
	return nil
}

func applyLayer(dir string, l v1.Layer) error {
	rc, err := l.Uncompressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	if err := Apply(dir, rc); err != nil {
		return err
	}
	// Read to the end so the layer's digest is checked.
	_, err = io.Copy(io.Discard, rc)
	return err
}
