package publish

import (
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/gantry-build/gantry/internal/testenv"
	"github.com/gantry-build/gantry/pkg/images"
	"github.com/gantry-build/gantry/pkg/rootfs"
)

// A build on a base read from a registry, stored (-t) and pushed (--push),
// never downloads the base's layers: the store keeps them lazily and the
// push mounts them. The first real need (unpacking) fetches them, once.
func TestPushNeverMovesBaseBytes(t *testing.T) {
	host, requests := loggingRegistry(t)
	base := pushedBase(t, host)
	st, rc := testenv.Store(t), testenv.Client(t)
	st.SetFetcher(context.Background(), rc.Layer)
	remoteBase, err := images.Resolve(context.Background(), st, rc, host+"/lib/base:1", nil)
	if err != nil {
		t.Fatal(err)
	}
	added, _ := random.Layer(1024, "application/vnd.docker.image.rootfs.diff.tar.gzip")
	built, err := mutate.AppendLayers(remoteBase, added)
	if err != nil {
		t.Fatal(err)
	}
	baseLayers, _ := base.Layers()
	gets := func() int {
		n := 0
		for _, bl := range baseLayers {
			d, _ := bl.Digest()
			n += requests("GET /v2/lib/base/blobs/" + d.String())
		}
		return n
	}
	if _, err := Deliver(context.Background(), st, rc, images.Artifact{Image: built}, Targets{Names: []string{host + "/team/app:1"}, Push: true}, nil); err != nil {
		t.Fatal(err)
	}
	if n := gets(); n != 0 {
		t.Fatalf("the base's layers were downloaded %d times for a store and a push", n)
	}
	for _, bl := range baseLayers {
		d, _ := bl.Digest()
		if st.HasBlob(d) {
			t.Errorf("base layer %s was stored", d)
		}
	}
	// The stored image is whole to whoever reads it: unpacking fetches the
	// base's layers, verified, once.
	stored, err := images.Resolve(context.Background(), st, rc, host+"/team/app:1", nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "root")
	os.MkdirAll(dir, 0o755)
	if err := rootfs.Unpack(stored, dir); err != nil {
		t.Fatalf("unpacking the lazily stored image: %v", err)
	}
	if n := gets(); n != len(baseLayers) {
		t.Errorf("unpacking fetched the base's layers %d times, want %d", n, len(baseLayers))
	}
	if err := rootfs.Unpack(stored, filepath.Join(t.TempDir(), "again")); err != nil {
		t.Fatal(err)
	}
	if n := gets(); n != len(baseLayers) {
		t.Errorf("a second unpack fetched again (%d)", n)
	}
}

// A build on a registry base reads the base's config from the store once
// the store has it (it is named by its digest, which the manifest fetched
// now gives): one round trip less for every build but the first.
func TestABaseConfigIsFetchedOncePerStore(t *testing.T) {
	host, requests := loggingRegistry(t)
	base := pushedBase(t, host)
	configName, err := base.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	st, rc := testenv.Store(t), testenv.Client(t)
	added, _ := random.Layer(1024, "application/vnd.docker.image.rootfs.diff.tar.gzip")
	var built []string
	for range 2 {
		remoteBase, err := images.Resolve(context.Background(), st, rc, host+"/lib/base:1", nil)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := remoteBase.ConfigFile() // as a build starts from the base's config
		if err != nil {
			t.Fatal(err)
		}
		if len(cf.RootFS.DiffIDs) != 2 {
			t.Fatalf("the base's config has %d diff IDs, want 2", len(cf.RootFS.DiffIDs))
		}
		img, err := mutate.AppendLayers(remoteBase, added)
		if err != nil {
			t.Fatal(err)
		}
		ds, err := Deliver(context.Background(), st, rc, images.Artifact{Image: img}, Targets{Names: []string{host + "/team/app:1"}, Push: true}, nil)
		if err != nil {
			t.Fatal(err)
		}
		built = append(built, ds[0].Digest.String())
	}
	if n := requests("GET /v2/lib/base/blobs/" + configName.String()); n != 1 {
		t.Errorf("two builds fetched the base's config %d times, want 1", n)
	}
	if built[0] != built[1] {
		t.Errorf("the builds made %s and %s from the same inputs", built[0], built[1])
	}
}

// loggingRegistry is a registry on loopback and how many requests it was
// sent that are method and path exactly.
func loggingRegistry(t *testing.T) (host string, requests func(methodAndPath string) int) {
	t.Helper()
	var mu sync.Mutex
	var seen []string
	inner := ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.Path)
		mu.Unlock()
		inner.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), func(methodAndPath string) int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, r := range seen {
			if r == methodAndPath {
				n++
			}
		}
		return n
	}
}

// pushedBase is a random two-layer image pushed to host as lib/base:1.
func pushedBase(t *testing.T, host string) v1.Image {
	t.Helper()
	base, err := random.Image(4096, 2)
	if err != nil {
		t.Fatal(err)
	}
	pushBase(t, host, base)
	return base
}

func pushBase(t *testing.T, host string, base v1.Image) {
	t.Helper()
	ref, _ := name.ParseReference(host+"/lib/base:1", name.Insecure)
	if err := remote.Write(ref, base); err != nil {
		t.Fatal(err)
	}
}

// A registry whose base config is not the blob its manifest names fails
// the build, and the store keeps nothing under that name.
func TestALyingBaseConfigIsNeitherUsedNorKept(t *testing.T) {
	base, err := random.Image(4096, 2)
	if err != nil {
		t.Fatal(err)
	}
	configName, err := base.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	inner := ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Path == "/v2/lib/base/blobs/"+configName.String() {
			w.Write([]byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`))
			return
		}
		inner.ServeHTTP(w, r)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	pushBase(t, host, base)
	st, rc := testenv.Store(t), testenv.Client(t)
	for range 2 { // the second build finds nothing kept by the first
		img, err := images.Resolve(context.Background(), st, rc, host+"/lib/base:1", nil)
		if err == nil {
			_, err = img.ConfigFile()
		}
		if err == nil {
			t.Fatal("a base whose config is not the blob its manifest names was used")
		}
		if st.HasBlob(configName) {
			t.Fatalf("the lying config was kept as %s", configName)
		}
	}
}

// The kept config stands for the registry's only when it is what the
// manifest names: the digest and the size. A manifest that gives a stored
// blob's digest with another size gets no config from the store (the
// registry's check refuses it, as before anything was kept), and a large
// stored blob named as a config is never read into memory for it.
func TestAKeptConfigIsUsedOnlyAtItsNamedSize(t *testing.T) {
	host, _ := loggingRegistry(t)
	base := pushedBase(t, host)
	m, err := base.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	m = m.DeepCopy()
	m.Config.Size += 7
	ref, _ := name.ParseReference(host+"/lib/base:1", name.Insecure)
	lying, _ := json.Marshal(m)
	if err := remote.Put(ref, rawManifest(lying)); err != nil {
		t.Fatal(err)
	}
	st, rc := testenv.Store(t), testenv.Client(t)
	config, _ := base.RawConfigFile()
	if _, err := st.WriteBlobBytes(config); err != nil {
		t.Fatal(err)
	}
	img, err := images.Resolve(context.Background(), st, rc, host+"/lib/base:1", nil)
	if err == nil {
		_, err = img.ConfigFile()
	}
	if err == nil {
		t.Fatal("a config the manifest gives another size was taken from the store")
	}
}

// rawManifest is a manifest pushed as its bytes are (remote.Put).
type rawManifest []byte

func (r rawManifest) RawManifest() ([]byte, error) { return r, nil }
func (r rawManifest) MediaType() (types.MediaType, error) {
	var m struct {
		MediaType types.MediaType `json:"mediaType"`
	}
	return m.MediaType, json.Unmarshal(r, &m)
}
