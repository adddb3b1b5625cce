package transfer

import (
	"context"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/gantry-build/gantry/internal/testenv"
	"github.com/gantry-build/gantry/pkg/registry"
	"github.com/gantry-build/gantry/pkg/store"
)

// An index that lists another index (as some multi-platform tools nest
// them) is stored and pushed whole, through the one walk over an index's
// manifests: every image and the nested index arrive before the index that
// names them, and the registry serves the same digest back.
func TestNestedIndexStoredAndPushed(t *testing.T) {
	reg := newTestRegistry(t)
	rc := fastClient(t, registry.Config{})
	ctx := context.Background()
	amd, arm := randomImage(t, "amd64"), randomImage(t, "arm64")
	inner := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}})
	outer := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: inner})
	st := testenv.Store(t)
	desc, err := st.WriteIndex(ctx, outer, store.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	stored, err := st.Index(desc.Digest)
	if err != nil {
		t.Fatal(err)
	}
	res, err := PushImage(ctx, rc, stored, reg.host()+"/team/nested:1", PushOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := outer.Digest()
	if res.Digest != want {
		t.Errorf("pushed %s, want %s", res.Digest, want)
	}
	back, err := remote.Index(mustRef(t, reg.host()+"/team/nested:1"))
	if err != nil {
		t.Fatal(err)
	}
	innerDigest, _ := inner.Digest()
	nested, err := back.ImageIndex(innerDigest)
	if err != nil {
		t.Fatalf("the nested index is not in the registry: %v", err)
	}
	armDigest, _ := arm.Digest()
	if _, err := nested.Image(armDigest); err != nil {
		t.Errorf("the nested index's image is not in the registry: %v", err)
	}
}
