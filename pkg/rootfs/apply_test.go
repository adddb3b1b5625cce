//go:build linux || darwin

package rootfs

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type ent struct {
	name, body, link string
	typ              byte
	mode             int64
}

func layerTar(t *testing.T, ents ...ent) *bytes.Reader {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range ents {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Linkname: e.link, Mode: e.mode, Size: int64(len(e.body)), ModTime: time.Unix(1000, 0)}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Typeflag != tar.TypeReg {
			h.Size = 0
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(e.body))
	}
	tw.Close()
	return bytes.NewReader(buf.Bytes())
}

func TestWhiteoutsAndOpaqueDirs(t *testing.T) {
	dir := t.TempDir()
	lower := layerTar(t,
		ent{name: "etc/", typ: tar.TypeDir, mode: 0o755},
		ent{name: "etc/keep", body: "keep"},
		ent{name: "etc/gone", body: "gone"},
		ent{name: "opt/", typ: tar.TypeDir, mode: 0o755},
		ent{name: "opt/old1", body: "1"},
		ent{name: "opt/sub/old2", body: "2"},
		ent{name: "bin/sh", body: "#!", mode: 0o755},
		ent{name: "bin/link", typ: tar.TypeLink, link: "bin/sh"},
	)
	upper := layerTar(t,
		ent{name: "etc/.wh.gone"},
		ent{name: "opt/", typ: tar.TypeDir, mode: 0o755},
		ent{name: "opt/new", body: "new"},
		ent{name: "opt/.wh..wh..opq"},
		ent{name: "etc/keep", body: "replaced"},
	)
	for _, l := range []*bytes.Reader{lower, upper} {
		if err := Apply(dir, l); err != nil {
			t.Fatal(err)
		}
	}
	exists := func(p string) bool { _, err := os.Lstat(filepath.Join(dir, p)); return err == nil }
	if exists("etc/gone") || exists("etc/.wh.gone") {
		t.Error("whiteout did not delete etc/gone, or was written itself")
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "etc/keep")); string(b) != "replaced" {
		t.Errorf("etc/keep = %q", b)
	}
	if exists("opt/old1") || exists("opt/sub") || !exists("opt/new") || exists("opt/.wh..wh..opq") {
		t.Error("opaque directory not applied correctly")
	}
	a, _ := os.Stat(filepath.Join(dir, "bin/sh"))
	b, _ := os.Stat(filepath.Join(dir, "bin/link"))
	if !os.SameFile(a, b) {
		t.Error("hard link is not a hard link")
	}
	if a.Mode().Perm() != 0o755 {
		t.Errorf("bin/sh mode %v", a.Mode())
	}
}

func TestHostileEntriesStayInside(t *testing.T) {
	outside := t.TempDir()
	for _, tc := range []struct {
		name    string
		ents    []ent
		wantErr string
	}{
		{"dotdot", []ent{{name: "../escape", body: "x"}}, "escapes"},
		{"nested dotdot", []ent{{name: "a/../../escape", body: "x"}}, "escapes"},
		{"hard link outside", []ent{{name: "pw", typ: tar.TypeLink, link: "../../etc/passwd"}}, "escapes"},
		{"hard link to absolute", []ent{{name: "pw", typ: tar.TypeLink, link: "/etc/passwd"}}, "not a file in this root"},
		{"absolute name", []ent{{name: filepath.Join(outside, "abs"), body: "x"}}, ""},
		{"through a symlink", []ent{{name: "evil", typ: tar.TypeSymlink, link: outside}, {name: "evil/planted", body: "x"}}, ""},
		{"through a relative symlink", []ent{{name: "up", typ: tar.TypeSymlink, link: "../../../../../../.."}, {name: "up" + outside + "/planted2", body: "x"}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			err := Apply(dir, layerTar(t, tc.ents...))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			left, _ := os.ReadDir(outside)
			if len(left) != 0 {
				t.Fatalf("a layer wrote outside the root: %v", left)
			}
			// "../escape" would land beside the root.
			if _, err := os.Lstat(filepath.Join(filepath.Dir(dir), "escape")); err == nil {
				t.Error("../escape was written beside the root")
			}
		})
	}
}

func TestDirReplacedBySymlinkIsResolvedAgain(t *testing.T) {
	outside := t.TempDir()
	dir := t.TempDir()
	err := Apply(dir, layerTar(t,
		ent{name: "a/", typ: tar.TypeDir, mode: 0o755},
		ent{name: "a", typ: tar.TypeSymlink, link: outside},
		ent{name: "a/x", body: "escaped?"},
	))
	if err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(outside); len(left) != 0 {
		t.Fatalf("a remembered directory let a write through a symlink: %v", left)
	}
}

// A name given twice in one layer ends as its last entry, in a directory
// the layer made (the fast path) as at the root (the general one), with the
// mode of the tar, umask or not.
func TestRepeatedEntryLastWins(t *testing.T) {
	dir := t.TempDir()
	err := Apply(dir, layerTar(t,
		ent{name: "d/", typ: tar.TypeDir, mode: 0o755},
		ent{name: "d/f", body: "one"},
		ent{name: "d/f", body: "two", mode: 0o777},
		ent{name: "top", body: "one"},
		ent{name: "top", body: "two", mode: 0o666},
		ent{name: "d/s", body: "setuid", mode: 0o4755},
	))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]os.FileMode{"d/f": 0o777, "top": 0o666, "d/s": 0o755 | os.ModeSetuid} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		fi, _ := os.Stat(filepath.Join(dir, name))
		if name != "d/s" && (err != nil || string(b) != "two") {
			t.Errorf("%s = %q, %v; want the last entry", name, b, err)
		}
		if fi == nil || fi.Mode() != want {
			t.Errorf("%s mode = %v, want %v", name, fi.Mode(), want)
		}
	}
}
