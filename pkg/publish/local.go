package publish

import (
	"io"

	"github.com/gantry-build/gantry/internal/atomicfile"
	"github.com/gantry-build/gantry/pkg/images"
	"github.com/gantry-build/gantry/pkg/rootfs"
	"github.com/gantry-build/gantry/pkg/transfer"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// writeLocal writes the root filesystem; of an index, the host's platform.
func writeLocal(dest string, img images.Artifact) error {
	one, err := hostImage(img)
	if err != nil {
		return err
	}
	return rootfs.Unpack(one, dest)
}

func hostImage(img images.Artifact) (v1.Image, error) {
	if img.Index == nil {
		return img.Image, nil
	}
	one, _, err := transfer.PickImage(img.Index, nil, "the built index")
	return one, err
}

// writeRootfsTar writes the flattened root filesystem as one tar (buildx's
// tar exporter); of an index, the host's platform.
func writeRootfsTar(dest string, img images.Artifact) error {
	one, err := hostImage(img)
	if err != nil {
		return err
	}
	return atomicfile.Write(dest, func(w io.Writer) error {
		rc := rootfs.Flatten(one)
		defer rc.Close()
		_, err := io.Copy(w, rc)
		return err
	})
}
