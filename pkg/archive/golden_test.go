package archive

import (
	"bytes"
	"reflect"
	"testing"
)

// testdata/docker-20.10-save.tar is `docker save tiny:built tiny:base
// localhost:5000/tiny:v1` from Docker 20.10.24: an imported one-file image
// and a build on it (ENV, COPY, LABEL, EXPOSE, CMD), sharing its base layer
// through a layer.tar symlink. Saving what we load from it must give back
// every file byte for byte: the v1 IDs, each `<id>/json`, the configs,
// manifest.json and repositories.
func TestDocker2010ArchiveRoundTrip(t *testing.T) {
	const golden = "testdata/docker-20.10-save.tar"
	_, loaded := openImages(t, golden)
	if len(loaded) != 2 {
		t.Fatalf("got %d images", len(loaded))
	}
	want := [][]string{
		{"index.docker.io/library/tiny:built", "localhost:5000/tiny:v1"},
		{"index.docker.io/library/tiny:base"},
	}
	var items []Item
	for i, l := range loaded {
		if got := tagNames(l.Names); !reflect.DeepEqual(got, want[i]) {
			t.Errorf("image %d names = %v, want %v", i, got, want[i])
		}
		if !reflect.DeepEqual(uncompressedDigests(t, l.Image), diffIDStrings(t, l.Image)) {
			t.Errorf("image %d: layers do not match their diff_ids", i)
		}
		items = append(items, l.Item())
	}
	id, _ := loaded[0].Image.ConfigName()
	if id.Hex != "d87cfb8cca48dd86cd2f2af744e83d9aa4abac42633332f2c5b46bf1ccabfa5a" {
		t.Errorf("image ID %s", id)
	}

	orig, mine := tarMap(t, golden), tarMap(t, saveFile(t, items, SaveOptions{}))
	for n, f := range orig {
		g, ok := mine[n]
		switch {
		case !ok:
			t.Errorf("%s is missing", n)
		case f.hdr.Typeflag != g.hdr.Typeflag || f.hdr.Linkname != g.hdr.Linkname:
			t.Errorf("%s: type %c -> %q, want %c -> %q", n, g.hdr.Typeflag, g.hdr.Linkname, f.hdr.Typeflag, f.hdr.Linkname)
		case !bytes.Equal(f.body, g.body):
			t.Errorf("%s differs:\n got %s\nwant %s", n, g.body, f.body)
		}
	}
	for n := range mine {
		if _, ok := orig[n]; !ok {
			t.Errorf("extra entry %s", n)
		}
	}
}

func TestOpenExtractedDockerArchive(t *testing.T) {
	dir := t.TempDir()
	extractTar(t, "testdata/docker-20.10-save.tar", dir)
	_, loaded := openImages(t, dir)
	if len(loaded) != 2 {
		t.Fatalf("got %d images", len(loaded))
	}
	for i, l := range loaded {
		if !reflect.DeepEqual(uncompressedDigests(t, l.Image), diffIDStrings(t, l.Image)) {
			t.Errorf("image %d: layers do not match their diff_ids", i)
		}
	}
}
