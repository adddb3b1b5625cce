package layer

import (
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// OCI rewrites only the manifest: the config and layers are the same
// blobs; an OCI image is left as it is; Append converts for zstd only.
func TestOCIKeepsTheBlobs(t *testing.T) {
	l, err := random.Layer(256, types.DockerLayer)
	if err != nil {
		t.Fatal(err)
	}
	docker, err := mutate.Append(mutate.MediaType(mutate.ConfigMediaType(empty.Image, types.DockerConfigJSON), types.DockerManifestSchema2),
		mutate.Addendum{Layer: l, MediaType: types.DockerLayer})
	if err != nil {
		t.Fatal(err)
	}
	oci, err := OCI(docker)
	if err != nil {
		t.Fatal(err)
	}
	before, _ := docker.Manifest()
	after, err := oci.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if after.MediaType != types.OCIManifestSchema1 || after.Config.MediaType != types.OCIConfigJSON || after.Layers[0].MediaType != types.OCILayer {
		t.Errorf("manifest %+v: want OCI media types", after)
	}
	if after.Config.Digest != before.Config.Digest || after.Layers[0].Digest != before.Layers[0].Digest {
		t.Error("the config or the layer changed")
	}
	if d1, _ := docker.Digest(); func() bool { d2, _ := oci.Digest(); return d1 == d2 }() {
		t.Error("the manifest digest did not change")
	}
	if again, _ := OCI(oci); again != oci {
		t.Error("an OCI image was rewritten again")
	}
	gz, err := Append(docker, mutate.Addendum{Layer: l, MediaType: types.DockerLayer})
	if err != nil {
		t.Fatal(err)
	}
	if mt, _ := gz.MediaType(); mt != types.DockerManifestSchema2 {
		t.Errorf("a gzip layer made the image %s", mt)
	}
	zs, err := Append(docker, mutate.Addendum{Layer: l, MediaType: types.OCILayerZStd})
	if err != nil {
		t.Fatal(err)
	}
	m, _ := zs.Manifest()
	if m.MediaType != types.OCIManifestSchema1 || m.Layers[0].MediaType != types.OCILayer || m.Layers[1].MediaType != types.OCILayerZStd {
		t.Errorf("after a zstd layer: %+v", m)
	}
}
