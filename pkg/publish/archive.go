package publish

import (
	"io"
	"strings"

	"github.com/gantry-build/gantry/internal/atomicfile"
	"github.com/gantry-build/gantry/pkg/archive"
	"github.com/gantry-build/gantry/pkg/images"
	"github.com/gantry-build/gantry/pkg/reference"
	"github.com/gantry-build/gantry/pkg/store"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

func writeOCI(dest string, img images.Artifact, tags []name.Tag) error {
	if strings.HasSuffix(dest, ".tar") {
		return atomicfile.Write(dest, func(w io.Writer) error {
			return archive.Save(w, []archive.Item{item(img, tags)}, archive.SaveOptions{Format: "oci", OCIMediaTypes: true})
		})
	}
	p, err := layout.FromPath(dest)
	if err != nil {
		if p, err = layout.Write(dest, empty.Index); err != nil {
			return err
		}
	}
	var opts []layout.Option
	for _, t := range tags {
		opts = append(opts, layout.WithAnnotations(map[string]string{
			store.AnnotationRefName:   t.TagStr(),
			store.AnnotationImageName: reference.Canonical(t),
		}))
		break // one descriptor per image; further names would duplicate it
	}
	if img.Index != nil {
		return p.AppendIndex(img.Index, opts...)
	}
	return p.AppendImage(img.Image, opts...)
}

func writeDockerArchive(dest string, img images.Artifact, tags []name.Tag) error {
	return atomicfile.Write(dest, func(w io.Writer) error {
		return archive.Save(w, []archive.Item{item(img, tags)}, archive.SaveOptions{})
	})
}
