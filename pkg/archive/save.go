package archive

import (
	"github.com/gantry-build/gantry/internal/compress"

	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/gantry-build/gantry/pkg/reference"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Save writes one tar holding all items to w. Layers are streamed, never
// held in memory; in the docker format a compressed layer is decompressed
// into a temporary file first, because a tar header needs its size.
// Entries carry fixed metadata and come in a fixed order, so the same items
// always give the same bytes.
func Save(w io.Writer, items []Item, opts SaveOptions) error {
	for i, it := range items {
		if (it.Image == nil) == (it.Index == nil) {
			return fmt.Errorf("save: item %d must have exactly one of Image and Index", i+1)
		}
	}
	groups, err := groupItems(items, opts.Format != "oci")
	if err != nil {
		return err
	}
	tw := newTarWriter(w)
	switch opts.Format {
	case "", "docker":
		err = (&dockerWriter{tw: tw, opts: opts}).write(groups)
	case "oci":
		err = (&ociWriter{tw: tw, opts: opts}).write(groups)
	default:
		return fmt.Errorf("save: unknown format %q (want docker or oci)", opts.Format)
	}
	if err != nil {
		return err
	}
	return tw.close()
}

// group is the items that are the same image (or index), with all their names.
type group struct {
	names []name.Tag
	image v1.Image
	index v1.ImageIndex
}

func (g *group) label() string {
	if len(g.names) > 0 {
		return reference.Familiar(g.names[0])
	}
	var h v1.Hash
	if g.image != nil {
		h, _ = g.image.Digest()
	} else {
		h, _ = g.index.Digest()
	}
	return h.String()
}

// groupItems merges items naming the same image, as docker save does for
// `docker save a:1 a:latest`. Docker knows an image by its config (its image
// ID); an OCI layout by its manifest, which also says how layers are
// compressed.
func groupItems(items []Item, byConfig bool) ([]*group, error) {
	var out []*group
	byKey := map[string]*group{}
	for _, it := range items {
		var key string
		if it.Image != nil {
			h, err := it.Image.Digest()
			if byConfig {
				h, err = it.Image.ConfigName()
			}
			if err != nil {
				return nil, fmt.Errorf("save %s: %w", namesLabel(it.Names), err)
			}
			key = "image " + h.String()
		} else {
			h, err := it.Index.Digest()
			if err != nil {
				return nil, fmt.Errorf("save %s: %w", namesLabel(it.Names), err)
			}
			key = "index " + h.String()
		}
		g := byKey[key]
		if g == nil {
			g = &group{image: it.Image, index: it.Index}
			byKey[key] = g
			out = append(out, g)
		}
		g.names = mergeNames(g.names, it.Names)
	}
	return out, nil
}

func namesLabel(names []name.Tag) string {
	if len(names) == 0 {
		return "image"
	}
	return reference.Familiar(names[0])
}

// annotations names a descriptor the way Docker 25+ and containerd do.
func annotations(t name.Tag) map[string]string {
	return map[string]string{
		annotationImageName: reference.Canonical(t),
		annotationRefName:   t.TagStr(),
	}
}

// namedDescriptors repeats d once per name, unnamed when there is none.
func namedDescriptors(d v1.Descriptor, names []name.Tag) []v1.Descriptor {
	if len(names) == 0 {
		return []v1.Descriptor{d}
	}
	out := make([]v1.Descriptor, 0, len(names))
	for _, t := range names {
		nd := d
		nd.Annotations = annotations(t)
		out = append(out, nd)
	}
	return out
}

// writeIndexJSON writes the OCI layout's index.json.
func writeIndexJSON(tw *tarWriter, descs []v1.Descriptor) error {
	b, err := json.Marshal(v1.IndexManifest{
		SchemaVersion: 2,
		MediaType:     types.OCIImageIndex,
		Manifests:     descs,
	})
	if err != nil {
		return err
	}
	return tw.bytes("index.json", b)
}

const ociLayoutFile = `{"imageLayoutVersion":"1.0.0"}`

// isUncompressed tells media types whose stored bytes are the layer tar.
func isUncompressed(mt types.MediaType) bool {
	switch mt {
	case types.DockerUncompressedLayer, types.OCIUncompressedLayer, types.OCIUncompressedRestrictedLayer:
		return true
	}
	return false
}

// uncompressedLayer opens the layer tar and, when its size is known without
// reading it, says so (size -1 otherwise). Decompression is ours rather than
// ggcr's: klauspost's gzip is several times faster than the standard one.
func uncompressedLayer(l v1.Layer) (io.ReadCloser, int64, error) {
	mt, err := l.MediaType()
	if err != nil {
		return nil, 0, err
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, 0, err
	}
	br := bufio.NewReaderSize(rc, 64<<10)
	head, _ := br.Peek(4)
	if kind := compress.Sniff(head); kind != compress.None {
		zr, err := compress.Open(br, kind)
		if err != nil {
			rc.Close()
			return nil, 0, err
		}
		return &readCloser{Reader: zr, close: func() error { zr.Close(); return rc.Close() }}, -1, nil
	}
	size := int64(-1)
	if isUncompressed(mt) {
		if size, err = l.Size(); err != nil {
			rc.Close()
			return nil, 0, err
		}
	}
	return &readCloser{Reader: br, close: rc.Close}, size, nil
}

// writeUncompressed writes layer l as an uncompressed tar at name and
// returns its size. The content must hash to diffID, or docker load would
// refuse the archive; a mismatch fails here, with the layer named.
func writeUncompressed(tw *tarWriter, name string, l v1.Layer, diffID v1.Hash, tempDir string) (int64, error) {
	rc, size, err := uncompressedLayer(l)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	mismatch := func(got v1.Hash) error {
		return fmt.Errorf("uncompressed content is %s (digest mismatch)", got)
	}
	if size < 0 {
		// The tar header needs the size before the content.
		tmp, err := os.CreateTemp(tempDir, "gantry-layer-*.tar")
		if err != nil {
			return 0, err
		}
		defer func() {
			tmp.Close()
			os.Remove(tmp.Name())
		}()
		if size, err = io.Copy(tmp, newVerifyReader(rc, nil, diffID, mismatch)); err != nil {
			return 0, fmt.Errorf("layer %s: %w", diffID, err)
		}
		if _, err := tmp.Seek(0, io.SeekStart); err != nil {
			return 0, err
		}
		rc = tmp
	} else {
		rc = &readCloser{Reader: newVerifyReader(rc, nil, diffID, mismatch), close: rc.Close}
	}
	if err := tw.stream(name, size, rc); err != nil {
		return 0, fmt.Errorf("layer %s: %w", diffID, err)
	}
	return size, nil
}
