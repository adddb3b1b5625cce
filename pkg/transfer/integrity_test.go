package transfer

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/gantry-build/gantry/pkg/archive"
	"github.com/gantry-build/gantry/pkg/registry"
	"github.com/gantry-build/gantry/pkg/rootfs"
	"github.com/gantry-build/gantry/pkg/store"
)

// lyingImage is img with its config's rootfs.diff_ids[i] replaced by claim:
// every blob still matches the manifest's digests and sizes, only the
// uncompressed content of layer i is not what the config says. This is what
// a hostile registry or archive sends to plant its content under the chain
// ID of someone else's base image.
func lyingImage(t *testing.T, img v1.Image, i int, claim v1.Hash) v1.Image {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.RootFS.DiffIDs[i] = claim
	out, err := mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// victimDiffID is the diff ID of content other than any layer of the test
// images: the diff ID a hostile image claims.
func victimDiffID(t *testing.T) v1.Hash {
	t.Helper()
	l, err := random.Layer(512, "")
	if err != nil {
		t.Fatal(err)
	}
	d, err := l.DiffID()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func layerDigest(t *testing.T, img v1.Image, i int) v1.Hash {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	return m.Layers[i].Digest
}

// assertNothingOf checks that a refused image left nothing behind: no
// name, no manifest, no config, no blob of the lying layer, no temp file.
func assertNothingOf(t *testing.T, st *store.Store, img v1.Image, lying int) {
	t.Helper()
	entries, err := st.List()
	if err != nil || len(entries) != 0 {
		t.Errorf("store entries after a refused image: %+v, %v", entries, err)
	}
	d, _ := img.Digest()
	c, _ := img.ConfigName()
	for what, h := range map[string]v1.Hash{"manifest": d, "config": c, "lying layer": layerDigest(t, img, lying)} {
		if st.HasBlob(h) {
			t.Errorf("the %s %s of the refused image is stored", what, h)
		}
	}
	tmp, _ := os.ReadDir(filepath.Join(st.Root(), "tmp"))
	if len(tmp) != 0 {
		t.Errorf("temp files left: %v", tmp)
	}
}

func TestPullRefusesLayerWhoseContentIsNotItsDiffID(t *testing.T) {
	reg := newTestRegistry(t)
	evil := lyingImage(t, randomImage(t, "amd64"), 1, victimDiffID(t))
	reg.push(t, "evil/img:1", evil)
	st := newStore(t)
	_, err := Pull(context.Background(), st, fastClient(t, registry.Config{}), reg.host()+"/evil/img:1", PullOptions{})
	if err == nil {
		t.Fatal("pull of an image whose layer does not match its diff_id succeeded")
	}
	if !errors.Is(err, store.ErrDiffIDMismatch) || !strings.Contains(err.Error(), layerDigest(t, evil, 1).String()) || !strings.Contains(err.Error(), "layer 2/2") {
		t.Errorf("error does not name the layer and the mismatch: %v", err)
	}
	assertNothingOf(t, st, evil, 1)
}

// A blob already stored (and verified) for one image does not make a second
// image's claim about it true: the config of the second says another diff
// ID for the same compressed blob.
func TestPullRefusesStoredBlobClaimedUnderAnotherDiffID(t *testing.T) {
	reg := newTestRegistry(t)
	good := randomImage(t, "amd64")
	reg.push(t, "good/img:1", good)
	evil := lyingImage(t, good, 0, victimDiffID(t))
	reg.push(t, "evil/img:1", evil)
	st := newStore(t)
	rc := fastClient(t, registry.Config{})
	if _, err := Pull(context.Background(), st, rc, reg.host()+"/good/img:1", PullOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err := Pull(context.Background(), st, rc, reg.host()+"/evil/img:1", PullOptions{})
	if !errors.Is(err, store.ErrDiffIDMismatch) || !strings.Contains(err.Error(), layerDigest(t, evil, 0).String()) {
		t.Fatalf("pull of a stored blob under another diff ID: %v", err)
	}
	if _, err := Resolve(st, reg.host()+"/evil/img:1"); err == nil {
		t.Error("the lying image got a name")
	}
	d, _ := evil.Digest()
	if st.HasBlob(d) {
		t.Error("the lying image's manifest is stored")
	}
}

// A base image read straight from the registry (build --from, FROM) reaches
// the unpacked-tree cache, keyed by chain ID, only with verified layers.
func TestRemoteBaseLayersVerifiedBeforeTheRootfsCache(t *testing.T) {
	reg := newTestRegistry(t)
	evil := lyingImage(t, randomImage(t, "amd64"), 0, victimDiffID(t))
	reg.push(t, "evil/base:1", evil)
	rm, err := RemoteImage(context.Background(), fastClient(t, registry.Config{}), reg.host()+"/evil/base:1", nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	_, err = rootfs.NewCache(dir).Get(rm.Image)
	if !errors.Is(err, store.ErrDiffIDMismatch) {
		t.Fatalf("rootfs cache of a lying remote base: %v", err)
	}
	left, _ := os.ReadDir(dir)
	if len(left) != 0 {
		t.Errorf("the cache kept %v after a refused layer", left)
	}
}

// Every archive kind is checked: OCI layout directories and tars, docker
// archives with compressed layers (go-containerregistry's, Docker 25's) and
// with uncompressed ones.
func TestLoadRefusesLayerWhoseContentIsNotItsDiffID(t *testing.T) {
	evil := lyingImage(t, randomImage(t, "amd64"), 1, victimDiffID(t))
	tag, err := name.NewTag("evil/img:1")
	if err != nil {
		t.Fatal(err)
	}
	writeLayout := func(t *testing.T) string {
		dir := filepath.Join(t.TempDir(), "layout")
		p, err := layout.Write(dir, empty.Index)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.AppendImage(evil); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	saveGantry := func(opts archive.SaveOptions) func(t *testing.T) string {
		return func(t *testing.T) string {
			path := filepath.Join(t.TempDir(), "evil.tar")
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if err := archive.Save(f, []archive.Item{{Names: []name.Tag{tag}, Image: evil}}, opts); err != nil {
				t.Fatal(err)
			}
			return path
		}
	}
	for _, tc := range []struct {
		name string
		make func(t *testing.T) string
	}{
		{"oci layout directory", writeLayout},
		{"oci layout tar", func(t *testing.T) string { return tarDir(t, writeLayout(t)) }},
		{"ggcr docker archive", func(t *testing.T) string {
			path := filepath.Join(t.TempDir(), "evil.tar")
			if err := tarball.WriteToFile(path, tag, evil); err != nil {
				t.Fatal(err)
			}
			return path
		}},
		{"docker archive, compressed layers", saveGantry(archive.SaveOptions{CompressedLayers: true})},
		{"docker archive, uncompressed layers", func(t *testing.T) string { return dockerArchive(t, "evil/img:1", evil) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.make(t)
			st := newStore(t)
			_, err := Load(context.Background(), st, path, nil)
			if err == nil {
				t.Fatal("load of an image whose layer does not match its diff_id succeeded")
			}
			if !strings.Contains(err.Error(), "diff") {
				t.Errorf("error does not say what is wrong: %v", err)
			}
			entries, _ := st.List()
			if len(entries) != 0 {
				t.Errorf("store entries after a refused load: %+v", entries)
			}
			if st.HasBlob(layerDigest(t, evil, 1)) {
				t.Errorf("the lying layer is stored")
			}
		})
	}
}

// An archive whose config equals a stored image's is still an archive of
// its own: load reads and checks its layers and names the manifest it
// makes, never the other image's record.
func TestLoadDoesNotReuseARecordWithTheSameConfig(t *testing.T) {
	reg := newTestRegistry(t)
	good := randomImage(t, "amd64")
	reg.push(t, "good/img:1", good)
	st := newStore(t)
	ctx := context.Background()
	pulled, err := Pull(ctx, st, fastClient(t, registry.Config{}), reg.host()+"/good/img:1", PullOptions{})
	if err != nil {
		t.Fatal(err)
	}

	// Same config, but the docker archive's first layer.tar holds other bytes.
	other, err := random.Layer(4<<10, "")
	if err != nil {
		t.Fatal(err)
	}
	layers, _ := good.Layers()
	swapped, err := mutate.AppendLayers(empty.Image, other, layers[1])
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := good.ConfigFile()
	forged, err := mutate.ConfigFile(swapped, cf)
	if err != nil {
		t.Fatal(err)
	}
	if c1, c2 := mustConfigName(t, forged), mustConfigName(t, good); c1 != c2 {
		t.Fatalf("test setup: configs differ: %s, %s", c1, c2)
	}
	if _, err := Load(ctx, st, dockerArchive(t, "forged/img:1", forged), nil); err == nil {
		t.Fatal("load of an archive whose layer does not match its config succeeded (a stored image with the same config was reused)")
	}
	if _, err := Resolve(st, "forged/img:1"); err == nil {
		t.Error("the forged archive got a name")
	}

	// The honest archive of the same image loads to a manifest of its own
	// (gantry compresses its layers), not to the pulled record.
	honest := filepath.Join(t.TempDir(), "honest.tar")
	f, err := os.Create(honest)
	if err != nil {
		t.Fatal(err)
	}
	gtag, _ := name.NewTag("honest/img:1")
	if err := archive.Save(f, []archive.Item{{Names: []name.Tag{gtag}, Image: good}}, archive.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	res, err := Load(ctx, st, honest, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Manifest == pulled.Stored.Digest {
		t.Errorf("load named the pulled record %s instead of the manifest it made", pulled.Stored.Digest)
	}
	e, err := Resolve(st, "honest/img:1")
	if err != nil {
		t.Fatal(err)
	}
	img, err := st.Image(e.Descriptor.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(img); err != nil {
		t.Errorf("loaded image: %v", err)
	}
}

func mustConfigName(t *testing.T, img v1.Image) v1.Hash {
	t.Helper()
	h, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// tarDir writes dir as a tar file and returns its path.
func tarDir(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "dir.tar")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		hdr, err := tar.FileInfoHeader(fi, "")
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(rel)
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if d.Type().IsRegular() {
			src, err := os.Open(p)
			if err != nil {
				return err
			}
			defer src.Close()
			_, err = io.Copy(tw, src)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// dockerArchive writes img as `docker save` of Docker 1.10–24 does
// (manifest.json, the config, one uncompressed layer.tar per layer) without
// checking anything, as a hostile archive would be.
func dockerArchive(t *testing.T, tag string, img v1.Image) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "docker.tar")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	add := func(name string, b []byte) {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	rawConfig, err := img.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	add("config.json", rawConfig)
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for i, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		p := fmt.Sprintf("l%d/layer.tar", i)
		add(p, b)
		paths = append(paths, p)
	}
	manifest, _ := json.Marshal([]map[string]any{{"Config": "config.json", "RepoTags": []string{tag}, "Layers": paths}})
	add("manifest.json", manifest)
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}
