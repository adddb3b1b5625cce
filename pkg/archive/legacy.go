package archive

import (
	"github.com/gantry-build/gantry/internal/compress"

	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The pre-1.10 layout has no image configs: each `<id>/json` is a v1 image
// naming its parent, and Docker's legacy loader (moby image/tarexport,
// legacyLoadImage) builds a config from the top one. This file does the same,
// so the image gets the ID Docker would give it.

type legacyLayer struct {
	id     string
	raw    []byte
	img    v1Image
	parent string
}

// legacyHistory is moby's image.History of Docker 1.10–24 (created is always
// written there).
type legacyHistory struct {
	Created    time.Time `json:"created"`
	Author     string    `json:"author,omitempty"`
	CreatedBy  string    `json:"created_by,omitempty"`
	Comment    string    `json:"comment,omitempty"`
	EmptyLayer bool      `json:"empty_layer,omitempty"`
}

type legacyRootFS struct {
	Type    string   `json:"type"`
	DiffIDs []string `json:"diff_ids,omitempty"`
}

type legacyLoader struct {
	a      *Archive
	layers map[string]*legacyLayer
	files  map[string]*blobLayer // hashed once however many images share them
}

func (a *Archive) legacyImages(rawRepos []byte) ([]Loaded, error) {
	var repos map[string]map[string]string
	if err := json.Unmarshal(rawRepos, &repos); err != nil {
		return nil, a.errorf("repositories is not JSON: %v", err)
	}
	ld := &legacyLoader{a: a, layers: map[string]*legacyLayer{}, files: map[string]*blobLayer{}}
	var tops []string
	names := map[string][]name.Tag{}
	repoNames := make([]string, 0, len(repos))
	for r := range repos {
		repoNames = append(repoNames, r)
	}
	sort.Strings(repoNames)
	for _, r := range repoNames {
		tags := make([]string, 0, len(repos[r]))
		for t := range repos[r] {
			tags = append(tags, t)
		}
		sort.Strings(tags)
		for _, tag := range tags {
			id := repos[r][tag]
			t, err := name.NewTag(r + ":" + tag)
			if err != nil {
				return nil, a.errorf("repositories: invalid name %q: %v", r+":"+tag, err)
			}
			if _, err := ld.layer(id); err != nil {
				if isNotExist(err) {
					return nil, a.errorf("repositories names %q for %s, which is not in the archive%s", id, r+":"+tag, a.truncatedHint())
				}
				return nil, err
			}
			if _, ok := names[id]; !ok {
				tops = append(tops, id)
			}
			names[id] = append(names[id], t)
		}
	}
	// Untagged images that no other image builds on are images too.
	parents := map[string]bool{}
	var leaves []string
	for _, d := range a.src.topDirs() {
		l, err := ld.layer(d)
		if isNotExist(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		parents[l.parent] = true
		leaves = append(leaves, d)
	}
	for _, d := range leaves {
		if _, tagged := names[d]; !tagged && !parents[d] {
			tops = append(tops, d)
		}
	}
	out := make([]Loaded, 0, len(tops))
	for _, id := range tops {
		img, err := ld.image(id)
		if err != nil {
			return nil, err
		}
		out = append(out, Loaded{Names: names[id], Image: img})
	}
	return out, nil
}

// layer reads `<id>/json`; a missing one is an fs.ErrNotExist error.
func (ld *legacyLoader) layer(id string) (*legacyLayer, error) {
	if l := ld.layers[id]; l != nil {
		return l, nil
	}
	if id == "" || id == "." || id == ".." || strings.Contains(id, "/") {
		return nil, ld.a.errorf("%q is not a layer ID", id)
	}
	raw, err := ld.a.readMetadata(id + "/json")
	if err != nil {
		return nil, err
	}
	img, err := parseV1Image(raw)
	if err != nil {
		return nil, ld.a.errorf("%q is not a v1 image JSON: %v", id+"/json", err)
	}
	var p struct{ Parent string }
	_ = json.Unmarshal(raw, &p)
	l := &legacyLayer{id: id, raw: raw, img: img, parent: p.Parent}
	ld.layers[id] = l
	return l, nil
}

// chain returns the layers from the base up to top.
func (ld *legacyLoader) chain(top string) ([]*legacyLayer, error) {
	var chain []*legacyLayer
	seen := map[string]bool{}
	for id := top; id != ""; {
		if seen[id] {
			return nil, ld.a.errorf("layer %q is its own ancestor", id)
		}
		seen[id] = true
		l, err := ld.layer(id)
		if err != nil {
			if isNotExist(err) && len(chain) > 0 {
				return nil, ld.a.errorf("%q names parent %q, which is not in the archive%s", chain[len(chain)-1].id+"/json", id, ld.a.truncatedHint())
			}
			return nil, err
		}
		chain = append(chain, l)
		id = l.parent
	}
	for i, j := 0, len(chain)-1; i < j; i, j = i+1, j-1 {
		chain[i], chain[j] = chain[j], chain[i]
	}
	return chain, nil
}

func (ld *legacyLoader) image(top string) (*archiveImage, error) {
	chain, err := ld.chain(top)
	if err != nil {
		return nil, err
	}
	img := &archiveImage{mediaType: types.DockerManifestSchema2}
	var diffIDs []v1.Hash
	var history []legacyHistory
	for _, l := range chain {
		bl := ld.files[l.id]
		if bl == nil {
			if bl, err = ld.a.legacyLayerFile(l.id + "/layer.tar"); err != nil {
				return nil, err
			}
			ld.files[l.id] = bl
		}
		img.layers = append(img.layers, bl)
		diffIDs = append(diffIDs, bl.diffID)
		history = append(history, legacyHistory{
			Created:   l.img.Created,
			Author:    l.img.Author,
			CreatedBy: strings.Join(l.img.ContainerConfig.Cmd, " "),
			Comment:   l.img.Comment,
		})
	}
	img.rawConfig, err = legacyConfig(chain[len(chain)-1].raw, diffIDs, history)
	if err != nil {
		return nil, ld.a.errorf("%q: %v", top+"/json", err)
	}
	img.describeLayers()
	return img, nil
}

// legacyConfig is moby's image/v1.MakeConfigFromV1Config.
func legacyConfig(raw []byte, diffIDs []v1.Hash, history []legacyHistory) ([]byte, error) {
	var ver struct {
		DockerVersion string `json:"docker_version"`
	}
	if err := json.Unmarshal(raw, &ver); err != nil {
		return nil, err
	}
	// Before 1.8.3 Docker wrote blank fields it later dropped; Docker
	// normalizes those through its V1Image struct, and so must we.
	if versionLess(ver.DockerVersion, "1.8.3") {
		img, err := parseV1Image(raw)
		if err != nil {
			return nil, err
		}
		var p struct{ Parent string }
		_ = json.Unmarshal(raw, &p)
		img.Parent = p.Parent
		if raw, err = json.Marshal(img); err != nil {
			return nil, err
		}
	}
	var c map[string]json.RawMessage
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, err
	}
	for _, k := range []string{"id", "parent", "Size", "parent_id", "layer_id", "throwaway"} {
		delete(c, k)
	}
	rootfs := legacyRootFS{Type: "layers"}
	for _, d := range diffIDs {
		rootfs.DiffIDs = append(rootfs.DiffIDs, d.String())
	}
	var err error
	if c["rootfs"], err = json.Marshal(rootfs); err != nil {
		return nil, err
	}
	if c["history"], err = json.Marshal(history); err != nil {
		return nil, err
	}
	return json.Marshal(c)
}

// versionLess compares dotted versions the way moby's pkg/version does:
// numerically, part by part, a part that is not a number counting as 0.
func versionLess(v, other string) bool {
	a, b := strings.Split(v, "."), strings.Split(other, ".")
	for i := 0; i < len(a) || i < len(b); i++ {
		var x, y int
		if i < len(a) {
			x, _ = strconv.Atoi(a[i])
		}
		if i < len(b) {
			y, _ = strconv.Atoi(b[i])
		}
		if x != y {
			return x < y
		}
	}
	return false
}

// legacyLayerFile describes `<id>/layer.tar`: legacy archives carry no diff
// IDs, so the file is read once to hash both what is stored and, when it is
// compressed, what it decompresses to.
func (a *Archive) legacyLayerFile(p string) (*blobLayer, error) {
	f, err := a.open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	stored := sha256.New()
	head := make([]byte, 4)
	n, _ := f.ReadAt(head, 0)
	comp := compress.Sniff(head[:n])
	l := &blobLayer{a: a, path: p, size: f.Size()}
	var diff v1.Hash
	tee := io.TeeReader(f, stored)
	switch comp {
	case compress.None:
		l.mediaType = types.DockerUncompressedLayer
		if _, err := io.Copy(io.Discard, tee); err != nil {
			return nil, a.errorf("reading %q: %v", p, err)
		}
	default:
		l.mediaType = types.DockerLayer
		if comp == compress.Zstd {
			l.mediaType = types.OCILayerZStd
		}
		zr, err := compress.Open(tee, comp)
		if err != nil {
			return nil, a.errorf("%q: %v", p, err)
		}
		defer zr.Close()
		if diff, _, err = v1.SHA256(zr); err != nil {
			return nil, a.errorf("decompressing %q: %v", p, err)
		}
		if _, err := io.Copy(io.Discard, tee); err != nil {
			return nil, a.errorf("reading %q: %v", p, err)
		}
	}
	digest := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(stored.Sum(nil))}
	if comp == compress.None {
		diff = digest
	}
	l.diffID = diff
	l.digest = func() (v1.Hash, error) { return digest, nil }
	return l, nil
}
