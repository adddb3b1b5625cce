package mediatype

import (
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

func TestOCIManifest(t *testing.T) {
	m := &v1.Manifest{SchemaVersion: 2, MediaType: types.DockerManifestSchema2,
		Config: v1.Descriptor{MediaType: types.DockerConfigJSON},
		Layers: []v1.Descriptor{{MediaType: types.DockerLayer}, {MediaType: types.DockerUncompressedLayer},
			{MediaType: types.DockerForeignLayer, URLs: []string{"https://example.com/l"}}, {MediaType: types.OCILayerZStd}}}
	got := OCIManifest(m)
	want := []types.MediaType{types.OCIManifestSchema1, types.OCIConfigJSON, types.OCILayer, types.OCIUncompressedLayer, types.OCIRestrictedLayer, types.OCILayerZStd}
	have := []types.MediaType{got.MediaType, got.Config.MediaType}
	for _, l := range got.Layers {
		have = append(have, l.MediaType)
	}
	for i := range want {
		if have[i] != want[i] {
			t.Fatalf("media types %v, want %v", have, want)
		}
	}
	if got.Layers[2].URLs[0] != "https://example.com/l" {
		t.Error("a foreign layer lost its URLs")
	}
	if m.MediaType != types.DockerManifestSchema2 || m.Layers[0].MediaType != types.DockerLayer {
		t.Error("OCIManifest changed its argument")
	}
}
