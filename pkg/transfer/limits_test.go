package transfer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/gantry-build/gantry/pkg/registry"
	"github.com/gantry-build/gantry/pkg/store"
)

func sha256Of(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func fakeDigest(i int) v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%064x", i+1)}
}

// Manifests beyond the limits are refused before anything they name is
// fetched: a config declared huge (go-containerregistry would read all of
// it into memory), more layers than Docker runs, an index of thousands.
func TestPullRefusesManifestsBeyondTheLimits(t *testing.T) {
	reg := newTestRegistry(t)
	img := randomImage(t, "amd64")
	m, _ := img.Manifest()

	hugeConfig := m.DeepCopy()
	hugeConfig.Config.Size = 1 << 40
	manyLayers := m.DeepCopy()
	for i := len(manyLayers.Layers); i <= store.MaxLayers; i++ {
		manyLayers.Layers = append(manyLayers.Layers, v1.Descriptor{MediaType: types.DockerLayer, Size: 10, Digest: fakeDigest(i)})
	}
	bigIndex := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex}
	for i := 0; i <= store.MaxIndexEntries; i++ {
		bigIndex.Manifests = append(bigIndex.Manifests, v1.Descriptor{MediaType: types.OCIManifestSchema1, Size: 100, Digest: fakeDigest(i),
			Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}})
	}
	for _, tc := range []struct {
		tag  string
		body any
		mt   types.MediaType
		want string
	}{
		{"huge-config", hugeConfig, m.MediaType, "config"},
		{"many-layers", manyLayers, m.MediaType, "layers"},
		{"big-index", bigIndex, types.OCIImageIndex, "index"},
	} {
		t.Run(tc.tag, func(t *testing.T) {
			raw, err := json.Marshal(tc.body)
			if err != nil {
				t.Fatal(err)
			}
			ref := mustRef(t, reg.host()+"/hostile/img:"+tc.tag)
			// Served as it is: the in-memory registry would refuse to
			// store an index whose children it lacks.
			reg.mu.Lock()
			reg.hook = func(w http.ResponseWriter, r *http.Request) bool {
				if r.URL.Path != "/v2/hostile/img/manifests/"+tc.tag {
					return false
				}
				w.Header().Set("Content-Type", string(tc.mt))
				w.Header().Set("Docker-Content-Digest", sha256Of(raw))
				w.Write(raw)
				return true
			}
			reg.mu.Unlock()
			reg.reset()
			st := newStore(t)
			_, err = Pull(context.Background(), st, fastClient(t, registry.Config{}), ref.String(), PullOptions{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want a refusal about the %s", err, tc.want)
			}
			if got := reg.requests("/blobs/"); len(got) != 0 {
				t.Errorf("blobs fetched for a refused manifest: %v", got)
			}
			if got := reg.requests("/manifests/sha256:"); len(got) != 0 {
				t.Errorf("child manifests fetched for a refused index: %d", len(got))
			}
			if entries, _ := st.List(); len(entries) != 0 {
				t.Errorf("stored: %v", entries)
			}
		})
	}
}
