package archive

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
)

func mustTag(t testing.TB, s string) name.Tag {
	t.Helper()
	tag, err := name.NewTag(s)
	if err != nil {
		t.Fatal(err)
	}
	return tag
}

func randomImage(t testing.TB, size, layers int64) v1.Image {
	t.Helper()
	img, err := random.Image(size, layers)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// saveFile saves items into a file in a fresh temp dir.
func saveFile(t testing.TB, items []Item, opts SaveOptions) string {
	t.Helper()
	var buf bytes.Buffer
	if err := Save(&buf, items, opts); err != nil {
		t.Fatalf("Save: %v", err)
	}
	return writeTemp(t, "x.tar", buf.Bytes())
}

func writeTemp(t testing.TB, base string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), base)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func openImages(t testing.TB, p string) (*Archive, []Loaded) {
	t.Helper()
	a, err := Open(p)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { a.Close() })
	imgs, err := a.Images()
	if err != nil {
		t.Fatalf("Images: %v", err)
	}
	return a, imgs
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// uncompressedDigests reads every layer of img to its end (so verification
// runs) and returns the digests of the layer tars.
func uncompressedDigests(t testing.TB, img v1.Image) []string {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, sha(b))
	}
	return out
}

func diffIDStrings(t testing.TB, img v1.Image) []string {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range cf.RootFS.DiffIDs {
		out = append(out, d.String())
	}
	return out
}

type tarFile struct {
	hdr  *tar.Header
	body []byte
}

// readTar returns the entries of a tar file in order.
func readTar(t testing.TB, p string) []tarFile {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	var out []tarFile
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tarFile{h, b})
	}
}

func tarMap(t testing.TB, p string) map[string]tarFile {
	m := map[string]tarFile{}
	for _, f := range readTar(t, p) {
		m[f.hdr.Name] = f
	}
	return m
}

// buildTar makes a tar from entries in the given order.
func buildTar(t testing.TB, entries ...tarFile) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := *e.hdr
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func reg(name string, body []byte) tarFile {
	return tarFile{hdr: &tar.Header{Name: name}, body: body}
}

func symlink(name, target string) tarFile {
	return tarFile{hdr: &tar.Header{Name: name, Typeflag: tar.TypeSymlink, Linkname: target}}
}

func gzipBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// layerTar makes a small layer tar holding the given files.
func layerTar(t testing.TB, files map[string]string) []byte {
	t.Helper()
	var names []string
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var entries []tarFile
	for _, n := range names {
		entries = append(entries, reg(n, []byte(files[n])))
	}
	return buildTar(t, entries...)
}

func tagNames(ts []name.Tag) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Name())
	}
	return out
}

// extractTar unpacks a tar (regular files, dirs, symlinks) into dir.
func extractTar(t testing.TB, p, dir string) {
	t.Helper()
	for _, f := range readTar(t, p) {
		target := filepath.Join(dir, f.hdr.Name)
		switch f.hdr.Typeflag {
		case tar.TypeDir:
			os.MkdirAll(target, 0o755)
		case tar.TypeSymlink:
			os.MkdirAll(filepath.Dir(target), 0o755)
			if err := os.Symlink(f.hdr.Linkname, target); err != nil {
				t.Fatal(err)
			}
		default:
			os.MkdirAll(filepath.Dir(target), 0o755)
			if err := os.WriteFile(target, f.body, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
