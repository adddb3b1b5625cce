package flagbuild_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/gantry-build/gantry/pkg/config"
	"github.com/gantry-build/gantry/pkg/flagbuild"
	"github.com/gantry-build/gantry/pkg/layer"
	"github.com/gantry-build/gantry/pkg/registry"
	"github.com/gantry-build/gantry/pkg/store"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// A build from scratch with one file and an entrypoint. Same inputs, same
// digest, on any machine: entries sorted, owners 0:0, every time from
// Created, gzip output independent of the number of cores.
func ExampleFromFlags() {
	work, _ := os.MkdirTemp("", "example-")
	defer os.RemoveAll(work)
	os.WriteFile(filepath.Join(work, "hello.txt"), []byte("hello from gantry\n"), 0o644)
	st, _ := store.Open(filepath.Join(work, "store"))
	rc, _ := registry.New(registry.Options{})
	entrypoint := `["/bin/cat", "/hello.txt"]`
	res, err := flagbuild.FromFlags(context.Background(), st, rc, flagbuild.Options{
		From:      "scratch",
		Adds:      []layer.Add{{Src: filepath.Join(work, "hello.txt"), Dest: "/hello.txt"}},
		Edits:     config.Edits{Entrypoint: &entrypoint},
		Created:   time.Unix(0, 0).UTC(),
		Platforms: []v1.Platform{{OS: "linux", Architecture: "amd64"}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	digest, _ := res.Digest()
	fmt.Println(digest)
	// Output: sha256:60b8adaec439bdcdb579a5579c709f65c4ddaa3450dc6bab4cbc5508afffe113
}
