package archive

import (
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// ociWriter writes an OCI image layout tar: every blob once, compressed as
// it is, and one index.json entry per item and name.
type ociWriter struct {
	tw   *tarWriter
	opts SaveOptions
}

func (o *ociWriter) write(groups []*group) error {
	if err := o.tw.bytes("oci-layout", []byte(ociLayoutFile)); err != nil {
		return err
	}
	blobs := &blobWriter{tw: o.tw, ociTypes: o.opts.OCIMediaTypes}
	var descs []v1.Descriptor
	for _, g := range groups {
		var err error
		var d v1.Descriptor
		if g.image != nil {
			d, err = blobs.image(g.image)
		} else {
			d, err = blobs.index(g.index)
		}
		if err != nil {
			return fmt.Errorf("save %s: %w", g.label(), err)
		}
		descs = append(descs, namedDescriptors(d, g.names)...)
	}
	return writeIndexJSON(o.tw, descs)
}
