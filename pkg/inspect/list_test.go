package inspect

import (
	"context"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/gantry-build/gantry/pkg/store"
)

// Images pulled by digest have no tag: the TAG column says <none>, as
// docker images does, and the digest is in its own column.
func TestListTagsAndDigests(t *testing.T) {
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	img, err := random.Image(100, 1)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := st.WriteImage(context.Background(), img, store.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{
		"docker.io/library/busybox:1.36":          "1.36",
		"example.com/app@" + desc.Digest.String(): "<none>",
	}
	for n := range names {
		if err := st.SetName(n, desc); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := List(st)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 {
		t.Fatalf("rows = %+v", rows)
	}
	for _, r := range rows {
		if want := names[r.Name]; r.Tag != want {
			t.Errorf("%s: tag %q, want %q", r.Name, r.Tag, want)
		}
		if r.Digest != desc.Digest.String() {
			t.Errorf("%s: digest %q", r.Name, r.Digest)
		}
	}
}
