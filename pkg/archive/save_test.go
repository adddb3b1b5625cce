package archive

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/gantry-build/gantry/pkg/platform"
)

func TestSaveDockerRoundTrip(t *testing.T) {
	img := randomImage(t, 2048, 3)
	tags := []string{"busybox:latest", "localhost:5000/x:1"}
	p := saveFile(t, []Item{{Names: []name.Tag{mustTag(t, tags[0]), mustTag(t, tags[1])}, Image: img}}, SaveOptions{})

	files := tarMap(t, p)
	var manifest []dockerItem
	if err := json.Unmarshal(files["manifest.json"].body, &manifest); err != nil {
		t.Fatal(err)
	}
	if len(manifest) != 1 || !reflect.DeepEqual(manifest[0].RepoTags, tags) {
		t.Fatalf("manifest.json = %+v, want RepoTags %v", manifest, tags)
	}
	cfgName, _ := img.ConfigName()
	if manifest[0].Config != cfgName.Hex+".json" {
		t.Errorf("Config = %q, want %q", manifest[0].Config, cfgName.Hex+".json")
	}
	rawCfg, _ := img.RawConfigFile()
	if !bytes.Equal(files[manifest[0].Config].body, rawCfg) {
		t.Error("config bytes changed")
	}
	for _, l := range manifest[0].Layers {
		id := strings.TrimSuffix(l, "/layer.tar")
		if string(files[id+"/VERSION"].body) != "1.0" {
			t.Errorf("%s/VERSION missing", id)
		}
		var j map[string]any
		if err := json.Unmarshal(files[id+"/json"].body, &j); err != nil || j["id"] != id {
			t.Errorf("%s/json: id %v, err %v", id, j["id"], err)
		}
		if files[l].hdr.Typeflag != tar.TypeReg {
			t.Errorf("%s is not a regular file", l)
		}
	}
	var repos map[string]map[string]string
	if err := json.Unmarshal(files["repositories"].body, &repos); err != nil {
		t.Fatal(err)
	}
	top := strings.TrimSuffix(manifest[0].Layers[2], "/layer.tar")
	want := map[string]map[string]string{"busybox": {"latest": top}, "localhost:5000/x": {"1": top}}
	if !reflect.DeepEqual(repos, want) {
		t.Errorf("repositories = %v, want %v", repos, want)
	}

	_, loaded := openImages(t, p)
	if len(loaded) != 1 {
		t.Fatalf("got %d images", len(loaded))
	}
	got := loaded[0]
	if !reflect.DeepEqual(tagNames(got.Names), []string{"index.docker.io/library/busybox:latest", "localhost:5000/x:1"}) {
		t.Errorf("names = %v", tagNames(got.Names))
	}
	gotCfg, _ := got.Image.ConfigName()
	if gotCfg != cfgName {
		t.Errorf("config digest %s, want %s", gotCfg, cfgName)
	}
	gotRaw, _ := got.Image.RawConfigFile()
	if !bytes.Equal(gotRaw, rawCfg) {
		t.Error("RawConfigFile differs")
	}
	if !reflect.DeepEqual(diffIDStrings(t, got.Image), diffIDStrings(t, img)) {
		t.Error("diff IDs differ")
	}
	if !reflect.DeepEqual(uncompressedDigests(t, got.Image), uncompressedDigests(t, img)) {
		t.Error("layer contents differ")
	}
	m, err := got.Image.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.MediaType != types.DockerManifestSchema2 {
		t.Errorf("manifest media type %s", m.MediaType)
	}
	for i, l := range m.Layers {
		if l.MediaType != types.DockerUncompressedLayer || l.Digest.String() != diffIDStrings(t, img)[i] {
			t.Errorf("layer %d descriptor %+v", i, l)
		}
	}
	// Compressed of an uncompressed layer is the tar itself, verified.
	layers, _ := got.Image.Layers()
	rc, err := layers[0].Compressed()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if _, err := b.ReadFrom(rc); err != nil {
		t.Fatal(err)
	}
	if sha(b.Bytes()) != diffIDStrings(t, img)[0] {
		t.Error("Compressed content is not the layer tar")
	}
}

func TestSaveSharedLayersStoredOnce(t *testing.T) {
	base := randomImage(t, 1024, 2)
	baseLayers, _ := base.Layers()
	extra1, _ := random.Layer(512, types.DockerLayer)
	extra2, _ := random.Layer(512, types.DockerLayer)
	img1, err := mutate.AppendLayers(base, extra1)
	if err != nil {
		t.Fatal(err)
	}
	img2, _ := mutate.AppendLayers(base, extra2)
	// The top of img3 is base's second layer on another chain: another
	// v1 ID, the same diff ID, so it must become a symlink.
	img3, _ := mutate.AppendLayers(empty.Image, baseLayers[1])
	items := []Item{
		{Names: []name.Tag{mustTag(t, "a:1")}, Image: img1},
		{Names: []name.Tag{mustTag(t, "b:1")}, Image: img2},
		{Names: []name.Tag{mustTag(t, "c:1")}, Image: img3},
	}
	p := saveFile(t, items, SaveOptions{})
	regular, links := 0, 0
	for _, f := range readTar(t, p) {
		if !strings.HasSuffix(f.hdr.Name, "/layer.tar") {
			continue
		}
		switch f.hdr.Typeflag {
		case tar.TypeReg:
			regular++
		case tar.TypeSymlink:
			links++
			if !strings.HasPrefix(f.hdr.Linkname, "../") {
				t.Errorf("symlink %s -> %s", f.hdr.Name, f.hdr.Linkname)
			}
		}
	}
	if regular != 4 || links != 1 {
		t.Errorf("layer.tar entries: %d regular, %d symlinks; want 4 and 1", regular, links)
	}
	_, loaded := openImages(t, p)
	if len(loaded) != 3 {
		t.Fatalf("got %d images", len(loaded))
	}
	for i, it := range items {
		if !reflect.DeepEqual(uncompressedDigests(t, loaded[i].Image), diffIDStrings(t, it.Image)) {
			t.Errorf("image %d: layers differ", i)
		}
	}
}

func TestSaveDeterministic(t *testing.T) {
	img := randomImage(t, 4096, 2)
	idx := platformIndex(t)
	items := []Item{
		{Names: []name.Tag{mustTag(t, "a:1")}, Image: img},
		{Names: []name.Tag{mustTag(t, "m:1")}, Index: idx},
	}
	for _, format := range []string{"docker", "oci"} {
		var b1, b2 bytes.Buffer
		if err := Save(&b1, items, SaveOptions{Format: format, Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}); err != nil {
			t.Fatal(err)
		}
		if err := Save(&b2, items, SaveOptions{Format: format, Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b1.Bytes(), b2.Bytes()) {
			t.Errorf("%s: two saves differ", format)
		}
		for _, f := range readTar(t, writeTemp(t, "x.tar", b1.Bytes())) {
			if f.hdr.ModTime.Unix() != 0 || f.hdr.Uid != 0 || f.hdr.Gid != 0 {
				t.Errorf("%s: %s has mtime %v uid %d gid %d", format, f.hdr.Name, f.hdr.ModTime, f.hdr.Uid, f.hdr.Gid)
			}
		}
	}
}

// platformIndex is an index of two random images for linux/amd64 and linux/arm64/v8.
func platformIndex(t testing.TB) v1.ImageIndex {
	t.Helper()
	var adds []mutate.IndexAddendum
	for _, p := range []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64", Variant: "v8"}} {
		img := randomImage(t, 1024, 2)
		cf, _ := img.ConfigFile()
		cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
		img, err := mutate.ConfigFile(img, cf)
		if err != nil {
			t.Fatal(err)
		}
		p := p
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &p}})
	}
	return mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), adds...)
}

func TestSaveMultiPlatform(t *testing.T) {
	idx := platformIndex(t)
	single := randomImage(t, 1024, 1)
	arm := &v1.Platform{OS: "linux", Architecture: "arm64"}
	p := saveFile(t, []Item{
		{Names: []name.Tag{mustTag(t, "multi:1")}, Index: idx},
		{Names: []name.Tag{mustTag(t, "single:1")}, Image: single},
	}, SaveOptions{Platform: arm})
	files := tarMap(t, p)
	if string(files["oci-layout"].body) != ociLayoutFile {
		t.Error("no oci-layout")
	}
	var manifest []dockerItem
	if err := json.Unmarshal(files["manifest.json"].body, &manifest); err != nil {
		t.Fatal(err)
	}
	if len(manifest) != 2 {
		t.Fatalf("manifest.json has %d entries", len(manifest))
	}
	im, _ := idx.IndexManifest()
	armImg, _ := idx.Image(im.Manifests[1].Digest)
	armCfg, _ := armImg.ConfigName()
	if manifest[0].Config != "blobs/sha256/"+armCfg.Hex || !strings.HasPrefix(manifest[0].Layers[0], "blobs/sha256/") {
		t.Errorf("manifest.json entry for the index = %+v, want the arm64 config %s", manifest[0], armCfg)
	}
	var index v1.IndexManifest
	if err := json.Unmarshal(files["index.json"].body, &index); err != nil {
		t.Fatal(err)
	}
	if len(index.Manifests) != 2 {
		t.Fatalf("index.json has %d entries", len(index.Manifests))
	}
	idxDigest, _ := idx.Digest()
	if index.Manifests[0].Digest != idxDigest ||
		index.Manifests[0].Annotations[annotationRefName] != "1" ||
		index.Manifests[0].Annotations[annotationImageName] != "docker.io/library/multi:1" {
		t.Errorf("index.json entry = %+v", index.Manifests[0])
	}
	// Every blob of every platform is there, compressed as it was.
	for _, d := range im.Manifests {
		img, _ := idx.Image(d.Digest)
		ls, _ := img.Layers()
		for _, l := range ls {
			h, _ := l.Digest()
			if _, ok := files["blobs/sha256/"+h.Hex]; !ok {
				t.Errorf("blob %s missing", h)
			}
		}
	}

	_, loaded := openImages(t, p)
	if len(loaded) != 2 || loaded[0].Index == nil || loaded[1].Image == nil {
		t.Fatalf("loaded = %+v", loaded)
	}
	gotIdx, _ := loaded[0].Index.Digest()
	if gotIdx != idxDigest {
		t.Errorf("index digest %s, want %s", gotIdx, idxDigest)
	}
	if !reflect.DeepEqual(tagNames(loaded[0].Names), []string{"index.docker.io/library/multi:1"}) {
		t.Errorf("index names = %v", tagNames(loaded[0].Names))
	}
	gotIM, _ := loaded[0].Index.IndexManifest()
	if len(gotIM.Manifests) != 2 {
		t.Fatalf("index has %d manifests", len(gotIM.Manifests))
	}
	for _, d := range gotIM.Manifests {
		img, err := loaded[0].Index.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		orig, _ := idx.Image(d.Digest)
		if !reflect.DeepEqual(uncompressedDigests(t, img), diffIDStrings(t, orig)) {
			t.Errorf("platform %v: layers differ", d.Platform)
		}
	}
	if !reflect.DeepEqual(uncompressedDigests(t, loaded[1].Image), diffIDStrings(t, single)) {
		t.Error("single image layers differ")
	}

	// The archive is one OCI layout too: the single image is reachable
	// from index.json through symlinked blobs.
	dir := t.TempDir()
	extractTar(t, p, dir)
	lp, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	lidx, err := lp.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	lim, _ := lidx.IndexManifest()
	if len(lim.Manifests) != 2 {
		t.Fatalf("layout index has %d entries", len(lim.Manifests))
	}
	simg, err := lidx.Image(lim.Manifests[1].Digest)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(uncompressedDigests(t, simg), diffIDStrings(t, single)) {
		t.Error("single image via the OCI layout: layers differ")
	}
}

func TestSaveOCI(t *testing.T) {
	img := randomImage(t, 2048, 2)
	idx := platformIndex(t)
	p := saveFile(t, []Item{
		{Names: []name.Tag{mustTag(t, "app:1"), mustTag(t, "app:latest")}, Image: img},
		{Names: []name.Tag{mustTag(t, "multi:2")}, Index: idx},
		{Image: img}, // the same image again, unnamed: blobs once
	}, SaveOptions{Format: "oci"})
	seen := map[string]bool{}
	for _, f := range readTar(t, p) {
		if seen[f.hdr.Name] {
			t.Errorf("%s written twice", f.hdr.Name)
		}
		seen[f.hdr.Name] = true
	}
	if seen["manifest.json"] {
		t.Error("oci format wrote manifest.json")
	}

	check := func(t *testing.T, loaded []Loaded) {
		t.Helper()
		if len(loaded) != 2 {
			t.Fatalf("got %d images", len(loaded))
		}
		if loaded[0].Index == nil || loaded[1].Image == nil {
			t.Fatalf("loaded = %+v", loaded)
		}
		want, _ := img.Digest()
		got, _ := loaded[1].Image.Digest()
		if got != want {
			t.Errorf("image digest %s, want %s (the manifest must be kept)", got, want)
		}
		if !reflect.DeepEqual(tagNames(loaded[1].Names), []string{"index.docker.io/library/app:1", "index.docker.io/library/app:latest"}) {
			t.Errorf("names = %v", tagNames(loaded[1].Names))
		}
		if !reflect.DeepEqual(uncompressedDigests(t, loaded[1].Image), diffIDStrings(t, img)) {
			t.Error("layers differ")
		}
	}
	t.Run("tar", func(t *testing.T) {
		_, loaded := openImages(t, p)
		check(t, loaded)
	})
	dir := t.TempDir()
	extractTar(t, p, dir)
	t.Run("dir", func(t *testing.T) {
		_, loaded := openImages(t, dir)
		check(t, loaded)
	})
	t.Run("layout.Path", func(t *testing.T) {
		lp, err := layout.FromPath(dir)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := img.Digest()
		limg, err := lp.Image(want)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(uncompressedDigests(t, limg), diffIDStrings(t, img)) {
			t.Error("layers differ")
		}
	})
}

func TestSavePlatformChoice(t *testing.T) {
	idx := platformIndex(t)
	im, _ := idx.IndexManifest()
	for _, tc := range []struct {
		want  v1.Platform
		index int
	}{
		{v1.Platform{OS: "linux", Architecture: "amd64"}, 0},
		{v1.Platform{OS: "linux", Architecture: "arm64"}, 1},
		{v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}, 1},
		{v1.Platform{OS: "linux", Architecture: "s390x"}, -1},
	} {
		d, err := choosePlatform(idx, tc.want)
		if tc.index < 0 {
			if err == nil || !strings.Contains(err.Error(), "linux/amd64, linux/arm64/v8") {
				t.Errorf("%v: err = %v", tc.want, err)
			}
			continue
		}
		if err != nil || d.Digest != im.Manifests[tc.index].Digest {
			t.Errorf("%v: got %v, %v", tc.want, d.Platform, err)
		}
	}
	var buf bytes.Buffer
	err := Save(&buf, []Item{{Index: idx}}, SaveOptions{Platform: &v1.Platform{OS: "windows", Architecture: "amd64"}})
	if err == nil || !strings.Contains(err.Error(), "no image for platform windows/amd64") {
		t.Errorf("Save for a missing platform: %v", err)
	}
}

func TestSaveRejectsBadItems(t *testing.T) {
	var buf bytes.Buffer
	if err := Save(&buf, []Item{{}}, SaveOptions{}); err == nil {
		t.Error("an empty item was accepted")
	}
	if err := Save(&buf, []Item{{Image: empty.Image}}, SaveOptions{Format: "tgz"}); err == nil {
		t.Error("an unknown format was accepted")
	}
}

func TestSaveDetectsLayerNotMatchingDiffID(t *testing.T) {
	img := randomImage(t, 512, 1)
	cf, _ := img.ConfigFile()
	cf.RootFS.DiffIDs[0] = v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("0", 64)}
	bad, err := mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	err = Save(&buf, []Item{{Image: bad}}, SaveOptions{TempDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "digest mismatch") {
		t.Errorf("err = %v", err)
	}
}

func TestSaveSpoolsInTempDir(t *testing.T) {
	dir := t.TempDir()
	img := randomImage(t, 512, 1)
	var buf bytes.Buffer
	if err := Save(&buf, []Item{{Image: img}}, SaveOptions{TempDir: dir}); err != nil {
		t.Fatal(err)
	}
	left, _ := os.ReadDir(dir)
	if len(left) != 0 {
		t.Errorf("temp files left: %v", left)
	}
}

func TestSaveOCIMediaTypes(t *testing.T) {
	img := randomImage(t, 1024, 2) // Docker media types
	idx := platformIndex(t)
	p := saveFile(t, []Item{
		{Names: []name.Tag{mustTag(t, "app:1")}, Image: img},
		{Names: []name.Tag{mustTag(t, "multi:1")}, Index: idx},
	}, SaveOptions{Format: "oci", OCIMediaTypes: true})
	_, loaded := openImages(t, p)
	if len(loaded) != 2 {
		t.Fatalf("got %d images", len(loaded))
	}
	check := func(what string, got, orig v1.Image) {
		m, err := got.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		if m.MediaType != types.OCIManifestSchema1 || m.Config.MediaType != types.OCIConfigJSON {
			t.Errorf("%s: media types %s, %s", what, m.MediaType, m.Config.MediaType)
		}
		for _, l := range m.Layers {
			if l.MediaType != types.OCILayer {
				t.Errorf("%s: layer media type %s", what, l.MediaType)
			}
		}
		c1, _ := got.ConfigName()
		c2, _ := orig.ConfigName()
		if c1 != c2 {
			t.Errorf("%s: config changed", what)
		}
		if !reflect.DeepEqual(uncompressedDigests(t, got), diffIDStrings(t, orig)) {
			t.Errorf("%s: layers differ", what)
		}
	}
	mt, _ := loaded[0].Index.MediaType()
	if mt != types.OCIImageIndex {
		t.Errorf("index media type %s", mt)
	}
	im, _ := loaded[0].Index.IndexManifest()
	origIM, _ := idx.IndexManifest()
	for i, d := range im.Manifests {
		got, err := loaded[0].Index.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		orig, _ := idx.Image(origIM.Manifests[i].Digest)
		check("platform "+platform.String(*d.Platform), got, orig)
	}
	check("image", loaded[1].Image, img)
}
