package archive

import (
	"github.com/gantry-build/gantry/internal/compress"

	"encoding/json"
	"fmt"
	"path"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// manifestEntry is one element of a docker-save manifest.json.
type manifestEntry struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// maxMetadata bounds the JSON files read whole into memory; real ones are
// kilobytes, and a crafted archive must not make us allocate gigabytes.
const maxMetadata = 64 << 20

// readMetadata reads a small file of the archive whole.
func (a *Archive) readMetadata(name string) ([]byte, error) {
	f, err := a.src.open(name)
	if err != nil {
		if isNotExist(err) {
			return nil, err // the caller says who named the missing file
		}
		return nil, a.errorf("%w", err)
	}
	defer f.Close()
	if f.Size() > maxMetadata {
		return nil, a.errorf("%q is %d bytes, too large for image metadata", name, f.Size())
	}
	b := make([]byte, f.Size())
	if _, err := f.ReadAt(b, 0); err != nil {
		return nil, a.errorf("reading %q: %w", name, err)
	}
	return b, nil
}

func (a *Archive) parseManifestJSON(raw []byte) ([]manifestEntry, error) {
	var entries []manifestEntry
	if err := json.Unmarshal(raw, &entries); err != nil {
		return nil, a.errorf("manifest.json is not a JSON list of images: %v", err)
	}
	return entries, nil
}

// dockerImage makes the image of one manifest.json entry (Docker 1.10 and
// later, including Docker 25's blobs/ paths).
func (a *Archive) dockerImage(n int, e manifestEntry) (Loaded, v1.Hash, error) {
	what := fmt.Sprintf("manifest.json entry %d", n+1)
	if len(e.RepoTags) > 0 {
		what += fmt.Sprintf(" (%s)", e.RepoTags[0])
	}
	if e.Config == "" {
		return Loaded{}, v1.Hash{}, a.errorf("%s has no Config", what)
	}
	rawConfig, err := a.readMetadata(e.Config)
	if err != nil {
		if isNotExist(err) {
			return Loaded{}, v1.Hash{}, a.errorf("manifest.json names %q, which is not in the archive%s", e.Config, a.truncatedHint())
		}
		return Loaded{}, v1.Hash{}, err
	}
	diffIDs, err := diffIDsOf(rawConfig)
	if err != nil {
		return Loaded{}, v1.Hash{}, a.errorf("config %q %v", e.Config, err)
	}
	if len(diffIDs) != len(e.Layers) {
		return Loaded{}, v1.Hash{}, a.errorf("%s lists %d layers, but its config %q has %d diff_ids", what, len(e.Layers), e.Config, len(diffIDs))
	}
	var names []name.Tag
	for _, rt := range e.RepoTags {
		t, err := name.NewTag(rt)
		if err != nil {
			return Loaded{}, v1.Hash{}, a.errorf("%s: invalid tag %q: %v", what, rt, err)
		}
		names = append(names, t)
	}
	img := &archiveImage{mediaType: types.DockerManifestSchema2, rawConfig: rawConfig}
	for i, p := range e.Layers {
		l, err := a.storedLayer(p, diffIDs[i])
		if err != nil {
			return Loaded{}, v1.Hash{}, err
		}
		img.layers = append(img.layers, l)
	}
	img.describeLayers()
	return Loaded{Names: names, Image: img}, hashBytes(rawConfig), nil
}

// storedLayer describes a layer file of a docker archive as it is stored.
func (a *Archive) storedLayer(p string, diffID v1.Hash) (*blobLayer, error) {
	f, err := a.src.open(p)
	if err != nil {
		if isNotExist(err) {
			return nil, a.errorf("manifest.json names %q, which is not in the archive%s", p, a.truncatedHint())
		}
		return nil, a.errorf("%w", err)
	}
	head := make([]byte, 4)
	n, _ := f.ReadAt(head, 0)
	size, resolved := f.Size(), f.name
	f.Close()
	l := &blobLayer{a: a, path: p, size: size, diffID: diffID}
	switch compress.Sniff(head[:n]) {
	case compress.None:
		l.mediaType = types.DockerUncompressedLayer
		l.digest = func() (v1.Hash, error) { return diffID, nil }
		return l, nil
	case compress.Gzip:
		l.mediaType = types.DockerLayer
	case compress.Zstd:
		l.mediaType = types.OCILayerZStd
	}
	if h, ok := blobName(resolved); ok {
		// A blob's name is its digest; Compressed verifies it on reading.
		l.digest = func() (v1.Hash, error) { return h, nil }
	} else {
		l.digest = func() (v1.Hash, error) { return a.storedDigest(resolved) }
	}
	return l, nil
}

// blobPath is where an OCI layout keeps the blob with digest h.
func blobPath(h v1.Hash) string { return path.Join("blobs", h.Algorithm, h.Hex) }

// blobName reads the digest back from a blobs/<alg>/<hex> name.
func blobName(p string) (v1.Hash, bool) {
	parts := strings.Split(p, "/")
	if len(parts) != 3 || parts[0] != "blobs" {
		return v1.Hash{}, false
	}
	h, err := v1.NewHash(parts[1] + ":" + parts[2])
	return h, err == nil
}
