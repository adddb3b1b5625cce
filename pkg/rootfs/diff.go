package rootfs

import (
	"archive/tar"
	"crypto/sha256"
	"fmt"
	"io"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// Change is one line of gantry diff, as docker diff prints it.
type Change struct {
	Kind string `json:"kind"` // A added, C changed, D deleted
	Path string `json:"path"`
}

// node is what a path is in a flattened root filesystem: what docker diff
// compares (type, mode, owner, device number, size, mtime, link target,
// file capabilities), and the content.
type node struct {
	typ        byte
	mode       int64
	uid, gid   int
	dev        [2]int64
	size       int64
	link       string
	mtime      int64
	capability string
	sum        [32]byte
}

// Diff lists what changed from image a to image b, sorted by path; a nil
// means "b without its top layer", so Diff(nil, b) is b's top layer's work.
// As docker diff does, a directory whose metadata changed (its mtime moves
// when entries come and go) is reported C.
func Diff(a, b v1.Image) ([]Change, error) {
	if a == nil {
		layers, err := b.Layers()
		if err != nil {
			return nil, err
		}
		if len(layers) == 0 {
			return nil, nil
		}
		if a, err = mutate.AppendLayers(empty.Image, layers[:len(layers)-1]...); err != nil {
			return nil, err
		}
	}
	before, err := tree(a)
	if err != nil {
		return nil, err
	}
	after, err := tree(b)
	if err != nil {
		return nil, err
	}
	var out []Change
	for p, n := range after {
		old, ok := before[p]
		switch {
		case !ok:
			out = append(out, Change{"A", p})
		case old != n:
			out = append(out, Change{"C", p})
		}
	}
	for p := range before {
		if _, ok := after[p]; !ok && !parentDeleted(p, after, before) {
			out = append(out, Change{"D", p})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// parentDeleted: docker diff lists a deleted directory, not all it held.
func parentDeleted(p string, after, before map[string]node) bool {
	for dir := parentOf(p); dir != "/"; dir = parentOf(dir) {
		if _, inBefore := before[dir]; inBefore {
			if _, inAfter := after[dir]; !inAfter {
				return true
			}
		}
	}
	return false
}

func parentOf(p string) string {
	i := strings.LastIndex(p, "/")
	if i <= 0 {
		return "/"
	}
	return p[:i]
}

func tree(img v1.Image) (map[string]node, error) {
	rc := Flatten(img)
	defer rc.Close()
	out := map[string]node{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading the image's layers: %w", err)
		}
		p, err := clean(h.Name)
		if err != nil || p == "" {
			continue
		}
		m, _ := MetaOf(h)
		n := node{typ: h.Typeflag, mode: UnixMode(m.Mode), uid: m.UID, gid: m.GID, dev: [2]int64{m.Devmajor, m.Devminor},
			size: h.Size, link: h.Linkname, mtime: h.ModTime.Unix(), capability: m.Xattrs["security.capability"]}
		if h.Typeflag == tar.TypeReg {
			s := sha256.New()
			if _, err := io.Copy(s, tr); err != nil {
				return nil, err
			}
			copy(n.sum[:], s.Sum(nil))
		}
		out["/"+p] = n
	}
}
