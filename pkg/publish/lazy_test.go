package publish

import (
	"context"
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
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/gantry-build/gantry/internal/testenv"
	"github.com/gantry-build/gantry/pkg/images"
	"github.com/gantry-build/gantry/pkg/rootfs"
)

// A build on a base read from a registry, stored (-t) and pushed (--push),
// never downloads the base's layers: the store keeps them lazily and the
// push mounts them. The first real need (unpacking) fetches them, once.
func TestPushNeverMovesBaseBytes(t *testing.T) {
	var mu sync.Mutex
	var log_ []string
	inner := ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		log_ = append(log_, r.Method+" "+r.URL.Path)
		mu.Unlock()
		inner.ServeHTTP(w, r)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	base, err := random.Image(4096, 2)
	if err != nil {
		t.Fatal(err)
	}
	baseRef, _ := name.ParseReference(host+"/lib/base:1", name.Insecure)
	if err := remote.Write(baseRef, base); err != nil {
		t.Fatal(err)
	}
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
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, l := range log_ {
			for _, bl := range baseLayers {
				d, _ := bl.Digest()
				if l == "GET /v2/lib/base/blobs/"+d.String() {
					n++
				}
			}
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
