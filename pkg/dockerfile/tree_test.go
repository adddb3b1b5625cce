package dockerfile

import (
	"archive/tar"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/gantry-build/gantry/internal/testenv"
	"github.com/gantry-build/gantry/internal/treetest"
)

// node is one path of a built image's flattened filesystem.
type node struct {
	typ      byte // tar type flag
	mode     int64
	uid, gid int
	link     string
	body     string
}

func (n node) String() string {
	return fmt.Sprintf("%c %o %d:%d %s%s", n.typ, n.mode, n.uid, n.gid, n.link, n.body)
}

// dfBuildTree builds the Dockerfile text in ctxDir and returns the image's
// flattened filesystem: path (no leading /) → type, mode, owner, content.
func dfBuildTree(t *testing.T, ctxDir, dockerfile string, o DockerfileOptions) (map[string]node, error) {
	t.Helper()
	st, rc := testenv.Store(t), testenv.Client(t)
	if err := os.WriteFile(filepath.Join(ctxDir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		t.Fatal(err)
	}
	o.Context = ctxDir
	res, err := FromDockerfile(context.Background(), st, rc, o)
	if err != nil {
		return nil, err
	}
	return flatTree(t, res.Image), nil
}

// flatTree is img's flattened filesystem: path (no leading /) → type,
// mode, owner, content.
func flatTree(t *testing.T, img v1.Image) map[string]node {
	t.Helper()
	out := map[string]node{}
	treetest.EachInTar(t, mutate.Extract(img), func(h *tar.Header, b []byte) {
		typ := h.Typeflag
		if typ == tar.TypeRegA {
			typ = tar.TypeReg
		}
		out[strings.TrimSuffix(h.Name, "/")] = node{typ: typ, mode: h.Mode & 0o7777, uid: h.Uid, gid: h.Gid, link: h.Linkname, body: string(b)}
	})
	return out
}

// want checks path p of tree against "TYPE MODE UID:GID" (type d, f or l).
func want(t *testing.T, tree map[string]node, p, typeModeOwner string) {
	t.Helper()
	n, ok := tree[p]
	if !ok {
		t.Errorf("%s: missing", p)
		return
	}
	typ := map[byte]string{tar.TypeDir: "d", tar.TypeReg: "f", tar.TypeSymlink: "l"}[n.typ]
	if got := fmt.Sprintf("%s %o %d:%d", typ, n.mode, n.uid, n.gid); got != typeModeOwner {
		t.Errorf("%s: %s, want %s", p, got, typeModeOwner)
	}
}

// mkTree makes files (body), folders (name ending in /) and links
// ("-> target") in dir, then sets the modes given as name → mode.
func mkTree(t *testing.T, dir string, files map[string]string, modes map[string]os.FileMode) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		switch {
		case strings.HasSuffix(name, "/"):
			err := os.MkdirAll(p, 0o755)
			if err != nil {
				t.Fatal(err)
			}
		case strings.HasPrefix(body, "-> "):
			if err := os.Symlink(strings.TrimPrefix(body, "-> "), p); err != nil {
				t.Fatal(err)
			}
		default:
			if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for name, m := range modes {
		if err := os.Chmod(filepath.Join(dir, name), m); err != nil {
			t.Fatal(err)
		}
	}
}
