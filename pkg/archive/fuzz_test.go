package archive

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

func FuzzOpen(f *testing.F) {
	img := randomImage(f, 64, 1)
	for _, format := range []string{"docker", "oci"} {
		var buf bytes.Buffer
		if err := Save(&buf, []Item{{Names: []name.Tag{mustTag(f, "f:1")}, Image: img}}, SaveOptions{Format: format}); err != nil {
			f.Fatal(err)
		}
		f.Add(buf.Bytes())
		if format == "docker" {
			f.Add(gzipBytes(f, buf.Bytes()))
		}
	}
	legacy, _, _ := legacyArchive(f)
	f.Add(legacy)
	d25, _ := docker25Archive(f)
	f.Add(d25)
	for _, b := range hostileArchives(f) {
		f.Add(b)
	}

	// One file per worker, rewritten for each input: a temporary directory
	// per input would cost more than the parsing under test.
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "f.tar")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		a, err := Open(p)
		if err != nil {
			return
		}
		defer a.Close()
		loaded, err := a.Images()
		if err != nil {
			return
		}
		for _, l := range loaded {
			if l.Index != nil {
				im, err := l.Index.IndexManifest()
				if err != nil {
					continue
				}
				for _, d := range im.Manifests {
					if img, err := l.Index.Image(d.Digest); err == nil {
						readAll(img)
					}
				}
				continue
			}
			readAll(l.Image)
		}
	})
}

// readAll touches every accessor and layer of img, bounded.
func readAll(img v1.Image) {
	img.Digest()
	img.ConfigFile()
	layers, err := img.Layers()
	if err != nil {
		return
	}
	for _, l := range layers {
		l.Digest()
		for _, open := range []func() (io.ReadCloser, error){l.Compressed, l.Uncompressed} {
			rc, err := open()
			if err != nil {
				continue
			}
			io.Copy(io.Discard, io.LimitReader(rc, 1<<20))
			rc.Close()
		}
	}
}

// BenchmarkSave saves a 64 MiB image whose layers are gzip files on disk,
// as images from the local store are: decompression, the spool to a
// temporary file and the tar writing are what is measured.
func BenchmarkSave(b *testing.B) {
	const layerSize, layers = 16 << 20, 4
	src := randomImage(b, layerSize, layers)
	dir := b.TempDir()
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		b.Fatal(err)
	}
	if err := lp.AppendImage(src); err != nil {
		b.Fatal(err)
	}
	h, _ := src.Digest()
	img, err := lp.Image(h)
	if err != nil {
		b.Fatal(err)
	}
	items := []Item{{Names: []name.Tag{mustTag(b, "bench:1")}, Image: img}}
	for _, format := range []string{"docker", "oci"} {
		b.Run(format, func(b *testing.B) {
			b.SetBytes(layerSize * layers)
			for b.Loop() {
				if err := Save(io.Discard, items, SaveOptions{Format: format, TempDir: b.TempDir()}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
