package archive

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

const (
	legacyBase = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	legacyTop  = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

// legacyArchive is what Docker before 1.10 saved: no manifest.json, a
// `repositories` file and a parent chain of v1 layers. The top layer is
// gzip-compressed, which Docker's legacy loader also accepts.
func legacyArchive(t testing.TB) (archive []byte, baseTar, topTar []byte) {
	baseTar = layerTar(t, map[string]string{"bin/sh": "#!shell"})
	topTar = layerTar(t, map[string]string{"etc/motd": "hello"})
	baseJSON := `{"id":"` + legacyBase + `","created":"2015-06-01T10:00:00.123456789Z","container_config":{"Cmd":["/bin/sh","-c","#(nop) ADD file:abc in /"]},"docker_version":"1.6.2","author":"me","architecture":"amd64","os":"linux","Size":7}`
	topJSON := `{"id":"` + legacyTop + `","parent":"` + legacyBase + `","created":"2015-06-02T10:00:00Z","container_config":{"Cmd":"/bin/sh -c #(nop) CMD [\"sh\"]"},"config":{"Env":["PATH=/usr/bin:/bin"],"Cmd":["sh"]},"docker_version":"1.9.1","architecture":"amd64","os":"linux","comment":"top"}`
	archive = buildTar(t,
		tarFile{hdr: &tar.Header{Name: "./", Typeflag: tar.TypeDir, Mode: 0o755}},
		tarFile{hdr: &tar.Header{Name: legacyBase + "/", Typeflag: tar.TypeDir, Mode: 0o755}},
		reg(legacyBase+"/VERSION", []byte("1.0")),
		reg(legacyBase+"/json", []byte(baseJSON)),
		reg(legacyBase+"/layer.tar", baseTar),
		reg(legacyTop+"/VERSION", []byte("1.0")),
		reg(legacyTop+"/json", []byte(topJSON)),
		reg(legacyTop+"/layer.tar", gzipBytes(t, topTar)),
		reg("repositories", []byte(`{"busybox":{"latest":"`+legacyTop+`","1.0":"`+legacyTop+`"}}`)),
	)
	return archive, baseTar, topTar
}

func TestOpenLegacy(t *testing.T) {
	arch, baseTar, topTar := legacyArchive(t)
	_, loaded := openImages(t, writeTemp(t, "legacy.tar", arch))
	if len(loaded) != 1 {
		t.Fatalf("got %d images", len(loaded))
	}
	img := loaded[0].Image
	if got := tagNames(loaded[0].Names); !reflect.DeepEqual(got, []string{"index.docker.io/library/busybox:1.0", "index.docker.io/library/busybox:latest"}) {
		t.Errorf("names = %v", got)
	}
	want := []string{sha(baseTar), sha(topTar)}
	if got := diffIDStrings(t, img); !reflect.DeepEqual(got, want) {
		t.Errorf("diff_ids = %v, want %v", got, want)
	}
	if got := uncompressedDigests(t, img); !reflect.DeepEqual(got, want) {
		t.Errorf("layer contents = %v, want %v", got, want)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if len(cf.History) != 2 {
		t.Fatalf("history has %d entries", len(cf.History))
	}
	if cf.History[0].CreatedBy != "/bin/sh -c #(nop) ADD file:abc in /" || cf.History[0].Author != "me" {
		t.Errorf("history[0] = %+v", cf.History[0])
	}
	if cf.History[1].CreatedBy != `/bin/sh -c #(nop) CMD ["sh"]` || cf.History[1].Comment != "top" {
		t.Errorf("history[1] = %+v", cf.History[1])
	}
	if !reflect.DeepEqual(cf.Config.Env, []string{"PATH=/usr/bin:/bin"}) || !reflect.DeepEqual(cf.Config.Cmd, []string{"sh"}) {
		t.Errorf("config = %+v", cf.Config)
	}
	raw, _ := img.RawConfigFile()
	var keys map[string]json.RawMessage
	json.Unmarshal(raw, &keys)
	for _, k := range []string{"id", "parent", "Size"} {
		if _, ok := keys[k]; ok {
			t.Errorf("config keeps %q", k)
		}
	}
	m, _ := img.Manifest()
	if m.Layers[0].MediaType != types.DockerUncompressedLayer || m.Layers[1].MediaType != types.DockerLayer {
		t.Errorf("layer media types %s, %s", m.Layers[0].MediaType, m.Layers[1].MediaType)
	}
	// Saving what was loaded gives an archive today's Docker loads.
	p := saveFile(t, []Item{loaded[0].Item()}, SaveOptions{})
	_, again := openImages(t, p)
	c1, _ := img.ConfigName()
	c2, _ := again[0].Image.ConfigName()
	if c1 != c2 {
		t.Errorf("config digest changed from %s to %s", c1, c2)
	}
}

func TestLegacyConfigMatchesMoby(t *testing.T) {
	// Pre-1.8.3 v1 JSON goes through Docker's V1Image struct, which writes
	// the fields it knows in its order and drops the rest.
	raw := []byte(`{"id":"x","parent":"y","docker_version":"1.6.2","created":"2015-06-01T10:00:00Z","unknown":1,"container_config":{"Cmd":"sh"}}`)
	got, err := legacyConfig(raw, []v1.Hash{{Algorithm: "sha256", Hex: strings.Repeat("1", 64)}}, []legacyHistory{{CreatedBy: "sh"}})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"container_config":{"Hostname":"","Domainname":"","User":"","AttachStdin":false,"AttachStdout":false,"AttachStderr":false,"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":null,"Cmd":["sh"],"Image":"","Volumes":null,"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":null},"created":"2015-06-01T10:00:00Z","docker_version":"1.6.2","history":[{"created":"0001-01-01T00:00:00Z","created_by":"sh"}],"rootfs":{"type":"layers","diff_ids":["sha256:1111111111111111111111111111111111111111111111111111111111111111"]}}`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	for _, tc := range []struct {
		v    string
		less bool
	}{{"", true}, {"1.8.2", true}, {"1.8.3", false}, {"1.10.0", false}, {"17.03.0-ce", false}} {
		if versionLess(tc.v, "1.8.3") != tc.less {
			t.Errorf("versionLess(%q) != %v", tc.v, tc.less)
		}
	}
}

// docker25Archive is laid out as Docker 25+ saves: an OCI layout whose
// blobs include the uncompressed layers, plus manifest.json into blobs/.
func docker25Archive(t testing.TB) ([]byte, []byte) {
	layer := layerTar(t, map[string]string{"hello": "world"})
	diffID := sha(layer)
	config := []byte(`{"architecture":"amd64","os":"linux","config":{"Cmd":["/hello"]},"rootfs":{"type":"layers","diff_ids":["` + diffID + `"]}}`)
	cfgDigest := sha(config)
	manifest := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` + cfgDigest + `","size":` + itoa(len(config)) + `},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"` + diffID + `","size":` + itoa(len(layer)) + `}]}`)
	mDigest := sha(manifest)
	index := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + mDigest + `","size":` + itoa(len(manifest)) + `,"annotations":{"io.containerd.image.name":"docker.io/library/hello:1","org.opencontainers.image.ref.name":"1"}}]}`
	hex := func(d string) string { return strings.TrimPrefix(d, "sha256:") }
	mj := `[{"Config":"blobs/sha256/` + hex(cfgDigest) + `","RepoTags":["hello:1","hello:latest"],"Layers":["blobs/sha256/` + hex(diffID) + `"]}]` + "\n"
	return buildTar(t,
		reg("blobs/sha256/"+hex(diffID), layer),
		reg("blobs/sha256/"+hex(cfgDigest), config),
		reg("blobs/sha256/"+hex(mDigest), manifest),
		reg("index.json", []byte(index)),
		reg("manifest.json", []byte(mj)),
		reg("oci-layout", []byte(ociLayoutFile)),
	), layer
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestOpenDocker25(t *testing.T) {
	arch, layer := docker25Archive(t)
	_, loaded := openImages(t, writeTemp(t, "d25.tar", arch))
	if len(loaded) != 1 || loaded[0].Image == nil {
		t.Fatalf("loaded = %+v", loaded)
	}
	want := []string{"index.docker.io/library/hello:1", "index.docker.io/library/hello:latest"}
	if got := tagNames(loaded[0].Names); !reflect.DeepEqual(got, want) {
		t.Errorf("names = %v, want %v", got, want)
	}
	if got := uncompressedDigests(t, loaded[0].Image); !reflect.DeepEqual(got, []string{sha(layer)}) {
		t.Errorf("layers = %v", got)
	}
}

func TestOpenOCIRefNames(t *testing.T) {
	arch, _ := docker25Archive(t)
	// Only a bare tag and no manifest.json: there is no repository to name.
	var files []tarFile
	for _, f := range readTar(t, writeTemp(t, "x.tar", arch)) {
		switch f.hdr.Name {
		case "manifest.json":
			continue
		case "index.json":
			f.body = bytes.Replace(f.body, []byte(`"io.containerd.image.name":"docker.io/library/hello:1",`), nil, 1)
		}
		files = append(files, f)
	}
	_, loaded := openImages(t, writeTemp(t, "oci.tar", buildTar(t, files...)))
	if len(loaded) != 1 || len(loaded[0].Names) != 0 {
		t.Fatalf("loaded = %+v, want one unnamed image", loaded)
	}
	d := v1.Descriptor{Annotations: map[string]string{annotationRefName: "registry.example:5000/app:2"}}
	if got := tagNames(refNames(d)); !reflect.DeepEqual(got, []string{"registry.example:5000/app:2"}) {
		t.Errorf("full ref.name gave %v", got)
	}
}

func TestOpenPartialIndex(t *testing.T) {
	// Docker with the containerd store saves an index but only the
	// platforms it has; the index comes back trimmed to those.
	idx := platformIndex(t)
	p := saveFile(t, []Item{{Names: []name.Tag{mustTag(t, "m:1")}, Index: idx}}, SaveOptions{Format: "oci"})
	im, _ := idx.IndexManifest()
	drop := "blobs/sha256/" + im.Manifests[1].Digest.Hex
	var files []tarFile
	for _, f := range readTar(t, p) {
		if f.hdr.Name != drop {
			files = append(files, f)
		}
	}
	_, loaded := openImages(t, writeTemp(t, "partial.tar", buildTar(t, files...)))
	if len(loaded) != 1 || loaded[0].Index == nil {
		t.Fatalf("loaded = %+v", loaded)
	}
	got, _ := loaded[0].Index.IndexManifest()
	if len(got.Manifests) != 1 || got.Manifests[0].Digest != im.Manifests[0].Digest {
		t.Errorf("manifests = %+v", got.Manifests)
	}
}

func TestOpenGzip(t *testing.T) {
	img := randomImage(t, 1024, 2)
	p := saveFile(t, []Item{{Names: []name.Tag{mustTag(t, "z:1")}, Image: img}}, SaveOptions{})
	b, _ := os.ReadFile(p)
	gz := writeTemp(t, "archive.tar", gzipBytes(t, b)) // the name does not say gzip
	a, loaded := openImages(t, gz)
	tmp := a.src.(*tarSource).f.Name()
	if !reflect.DeepEqual(uncompressedDigests(t, loaded[0].Image), diffIDStrings(t, img)) {
		t.Error("layers differ")
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Errorf("temporary file %s left behind: %v", tmp, err)
	}
}

func TestOpenLayerSymlinkAndHardlink(t *testing.T) {
	layer := layerTar(t, map[string]string{"a": "b"})
	cfg := []byte(`{"rootfs":{"type":"layers","diff_ids":["` + sha(layer) + `","` + sha(layer) + `","` + sha(layer) + `"]}}`)
	arch := buildTar(t,
		reg("c.json", cfg),
		reg("one/layer.tar", layer),
		symlink("two/layer.tar", "../one/layer.tar"),
		symlink("three", "two"), // a linked directory
		tarFile{hdr: &tar.Header{Name: "four/layer.tar", Typeflag: tar.TypeLink, Linkname: "one/layer.tar"}},
		reg("manifest.json", []byte(`[{"Config":"c.json","RepoTags":null,"Layers":["one/layer.tar","three/layer.tar","four/layer.tar"]}]`)),
	)
	_, loaded := openImages(t, writeTemp(t, "links.tar", arch))
	want := []string{sha(layer), sha(layer), sha(layer)}
	if got := uncompressedDigests(t, loaded[0].Image); !reflect.DeepEqual(got, want) {
		t.Errorf("layers = %v", got)
	}
}

// openErr opens and lists an archive, reading every layer, and returns the
// first error.
func openErr(t testing.TB, p string) error {
	t.Helper()
	a, err := Open(p)
	if err != nil {
		return err
	}
	defer a.Close()
	loaded, err := a.Images()
	if err != nil {
		return err
	}
	for _, l := range loaded {
		imgs := []v1.Image{l.Image}
		if l.Index != nil {
			im, err := l.Index.IndexManifest()
			if err != nil {
				return err
			}
			imgs = nil
			for _, d := range im.Manifests {
				img, err := l.Index.Image(d.Digest)
				if err != nil {
					return err
				}
				imgs = append(imgs, img)
			}
		}
		for _, img := range imgs {
			layers, err := img.Layers()
			if err != nil {
				return err
			}
			for _, layer := range layers {
				rc, err := layer.Compressed()
				if err != nil {
					return err
				}
				_, err = io.Copy(io.Discard, rc)
				rc.Close()
				if err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func TestOpenTruncated(t *testing.T) {
	img := randomImage(t, 4096, 2)
	p := saveFile(t, []Item{{Names: []name.Tag{mustTag(t, "t:1")}, Image: img}}, SaveOptions{})
	b, _ := os.ReadFile(p)
	for _, cut := range []int{1, 100, 1024 + 512, len(b) / 2, len(b) - 512*3, 700} {
		for _, compress := range []bool{false, true} {
			data := b[:len(b)-cut]
			if compress {
				data = gzipBytes(t, b)
				data = data[:len(data)-min(cut, len(data)-1)]
			}
			err := openErr(t, writeTemp(t, "cut.tar", data))
			if err == nil {
				t.Errorf("cut %d (gzip %v): no error", cut, compress)
				continue
			}
			if !strings.HasPrefix(err.Error(), "archive ") {
				t.Errorf("cut %d (gzip %v): error does not name the archive: %v", cut, compress, err)
			}
		}
	}
	// (Cutting exactly the two end-of-archive blocks loses nothing and is
	// accepted, as by Docker.) Cut inside a layer: the entry is named at Open.
	half := b[:len(b)/2]
	_, err := Open(writeTemp(t, "half.tar", half))
	if err == nil || !strings.Contains(err.Error(), `truncated: unexpected end of file in "`) {
		t.Errorf("half archive: %v", err)
	}
}

func TestOpenMissingLayerFile(t *testing.T) {
	layer := layerTar(t, map[string]string{"a": "b"})
	arch := buildTar(t,
		reg("c.json", []byte(`{"rootfs":{"type":"layers","diff_ids":["`+sha(layer)+`"]}}`)),
		reg("manifest.json", []byte(`[{"Config":"c.json","RepoTags":["x:1"],"Layers":["abc/layer.tar"]}]`)),
	)
	p := writeTemp(t, "x.tar", arch)
	err := openErr(t, p)
	want := "archive " + p + `: manifest.json names "abc/layer.tar", which is not in the archive`
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
}

func TestOpenBadMetadata(t *testing.T) {
	layer := layerTar(t, map[string]string{"a": "b"})
	for _, tc := range []struct {
		name  string
		files []tarFile
		want  string
	}{
		{"config not JSON", []tarFile{reg("c.json", []byte("{nope")), reg("manifest.json", []byte(`[{"Config":"c.json","Layers":[]}]`))}, `config "c.json" is not JSON`},
		{"layers vs diff_ids", []tarFile{reg("c.json", []byte(`{"rootfs":{"diff_ids":[]}}`)), reg("l", layer), reg("manifest.json", []byte(`[{"Config":"c.json","Layers":["l"]}]`))}, `lists 1 layers, but its config "c.json" has 0 diff_ids`},
		{"missing config", []tarFile{reg("manifest.json", []byte(`[{"Config":"c.json","Layers":[]}]`))}, `manifest.json names "c.json", which is not in the archive`},
		{"manifest not JSON", []tarFile{reg("manifest.json", []byte(`{}`))}, `manifest.json is not a JSON list`},
		{"index not JSON", []tarFile{reg("index.json", []byte(`[`))}, `index.json is not an OCI image index`},
		{"bad tag", []tarFile{reg("c.json", []byte(`{"rootfs":{"diff_ids":[]}}`)), reg("manifest.json", []byte(`[{"Config":"c.json","RepoTags":["UPPER::x"],"Layers":[]}]`))}, `invalid tag "UPPER::x"`},
		{"bad diff id", []tarFile{reg("c.json", []byte(`{"rootfs":{"diff_ids":["md5:x"]}}`)), reg("manifest.json", []byte(`[{"Config":"c.json","Layers":["l"]}]`))}, `rootfs.diff_ids[0] "md5:x" is not a digest`},
		{"legacy missing parent", []tarFile{reg("b/json", []byte(`{"parent":"a"}`)), reg("b/layer.tar", layer), reg("repositories", []byte(`{"x":{"1":"b"}}`))}, `"b/json" names parent "a", which is not in the archive`},
		{"legacy missing image", []tarFile{reg("repositories", []byte(`{"x":{"1":"b"}}`))}, `repositories names "b" for x:1, which is not in the archive`},
		{"nothing", []tarFile{reg("hello.txt", []byte("hi"))}, ErrNotImageArchive.Error()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := openErr(t, writeTemp(t, "x.tar", buildTar(t, tc.files...)))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to contain %s", err, tc.want)
			}
		})
	}
	err := openErr(t, writeTemp(t, "x.tar", buildTar(t, reg("a", nil))))
	if !errors.Is(err, ErrNotImageArchive) {
		t.Errorf("err = %v, want ErrNotImageArchive", err)
	}
	if err := openErr(t, writeTemp(t, "x.tar", []byte("this is not a tar file at all, not even close; it just goes on and on for a while to fill a block."+strings.Repeat("x", 600)))); err == nil || !strings.Contains(err.Error(), "not a tar archive") {
		t.Errorf("garbage: %v", err)
	}
}

func TestOpenCorruptLayer(t *testing.T) {
	img := randomImage(t, 4096, 1)
	p := saveFile(t, []Item{{Image: img}}, SaveOptions{})
	a, loaded := openImages(t, p)
	layers, _ := loaded[0].Image.Layers()
	e := a.src.(*tarSource).entries[layers[0].(*blobLayer).path]
	a.Close()
	b, _ := os.ReadFile(p)
	b[e.offset+1000] ^= 0xff
	os.WriteFile(p, b, 0o644)

	a, loaded = openImages(t, p)
	defer a.Close()
	layers, _ = loaded[0].Image.Layers()
	for _, open := range []func() (io.ReadCloser, error){layers[0].Compressed, layers[0].Uncompressed} {
		rc, err := open()
		if err != nil {
			t.Fatal(err)
		}
		_, err = io.Copy(io.Discard, rc)
		rc.Close()
		if err == nil || !strings.Contains(err.Error(), "diff_id mismatch") || !strings.Contains(err.Error(), "/layer.tar") {
			t.Errorf("err = %v, want a diff_id mismatch naming the layer file (an uncompressed layer.tar is named by its diff ID)", err)
		}
	}
}

func TestOpenRejectsEscapes(t *testing.T) {
	layer := layerTar(t, map[string]string{"a": "b"})
	cfg := reg("c.json", []byte(`{"rootfs":{"type":"layers","diff_ids":["`+sha(layer)+`"]}}`))
	mj := reg("manifest.json", []byte(`[{"Config":"c.json","Layers":["l/layer.tar"]}]`))
	for _, tc := range []struct {
		name  string
		files []tarFile
	}{
		{"entry", []tarFile{reg("../x", layer), cfg, mj}},
		{"nested entry", []tarFile{reg("a/../../x", layer), cfg, mj}},
		{"symlink", []tarFile{symlink("l/layer.tar", "../../etc/passwd"), cfg, mj}},
		{"hardlink", []tarFile{{hdr: &tar.Header{Name: "l/layer.tar", Typeflag: tar.TypeLink, Linkname: "../x"}}, cfg, mj}},
		{"manifest path", []tarFile{cfg, reg("manifest.json", []byte(`[{"Config":"c.json","Layers":["../l/layer.tar"]}]`))}},
		{"link loop", []tarFile{symlink("l/layer.tar", "layer.tar"), cfg, mj}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := openErr(t, writeTemp(t, "x.tar", buildTar(t, tc.files...)))
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), "leads out of the archive") && !strings.Contains(err.Error(), "too many levels of links") {
				t.Errorf("err = %v", err)
			}
		})
	}
}

func TestOpenAbsoluteSymlinkStaysInside(t *testing.T) {
	layer := layerTar(t, map[string]string{"a": "b"})
	arch := buildTar(t,
		reg("c.json", []byte(`{"rootfs":{"type":"layers","diff_ids":["`+sha(layer)+`"]}}`)),
		reg("real/layer.tar", layer),
		symlink("l/layer.tar", "/real/layer.tar"),
		reg("manifest.json", []byte(`[{"Config":"c.json","Layers":["l/layer.tar"]}]`)),
	)
	if err := openErr(t, writeTemp(t, "x.tar", arch)); err != nil {
		t.Error(err)
	}
}

func TestOpenMissingPath(t *testing.T) {
	_, err := Open("/nonexistent/x.tar")
	if err == nil || err.Error() != "archive /nonexistent/x.tar: no such file or directory" {
		t.Errorf("err = %v", err)
	}
}

func TestOpenPlatformImageNamedApart(t *testing.T) {
	// A tag on one platform's manifest names that image, not its index.
	idx := platformIndex(t)
	im, _ := idx.IndexManifest()
	arm, _ := idx.Image(im.Manifests[1].Digest)
	p := saveFile(t, []Item{
		{Names: []name.Tag{mustTag(t, "m:1")}, Index: idx},
		{Names: []name.Tag{mustTag(t, "m:arm")}, Image: arm},
	}, SaveOptions{Format: "oci"})
	_, loaded := openImages(t, p)
	if len(loaded) != 2 || loaded[0].Index == nil || loaded[1].Image == nil {
		t.Fatalf("loaded = %+v", loaded)
	}
	if got := tagNames(loaded[1].Names); !reflect.DeepEqual(got, []string{"index.docker.io/library/m:arm"}) {
		t.Errorf("image names = %v", got)
	}
	if got := tagNames(loaded[0].Names); !reflect.DeepEqual(got, []string{"index.docker.io/library/m:1"}) {
		t.Errorf("index names = %v", got)
	}
}
