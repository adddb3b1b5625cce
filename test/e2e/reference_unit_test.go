package e2e

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tarOf writes a layer: each item is "TYPE NAME [ARG]" where TYPE is f
// (file, ARG its content), d (directory), l (symlink to ARG), h (hard link
// to ARG) or s (file with setuid, ARG its content).
func tarOf(t *testing.T, items ...string) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, it := range items {
		f := strings.SplitN(it, " ", 3)
		arg := ""
		if len(f) == 3 {
			arg = f[2]
		}
		h := &tar.Header{Name: f[1], Mode: 0o644}
		switch f[0] {
		case "f", "s":
			h.Typeflag, h.Size = tar.TypeReg, int64(len(arg))
			if f[0] == "s" {
				h.Mode = 0o4755
			}
		case "d":
			h.Typeflag, h.Mode = tar.TypeDir, 0o755
		case "l":
			h.Typeflag, h.Linkname = tar.TypeSymlink, arg
		case "h":
			h.Typeflag, h.Linkname = tar.TypeLink, arg
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			tw.Write([]byte(arg))
		}
	}
	tw.Close()
	return &buf
}

func flattenLayers(t *testing.T, layers ...*bytes.Buffer) imageFS {
	t.Helper()
	fs := imageFS{}
	for _, l := range layers {
		if err := fs.apply(l); err != nil {
			t.Fatal(err)
		}
	}
	return fs
}

// The comparison's own flattener must get the layer rules right, or a
// difference could hide in it: whiteouts, opaque directories whose marker
// comes after the layer's own entries, a directory replaced by a file and
// then by a directory again, hard links, mode bits.
func TestFlattenLayerRules(t *testing.T) {
	fs := flattenLayers(t,
		tarOf(t, "d a/", "d a/sub/", "f a/sub/old one", "f a/keep k", "d b/", "f b/x x", "d c/", "f c/y y", "s bin su"),
		tarOf(t, "d b/", "f b/new n", "f b/.wh..wh..opq", "f a/.wh.keep", "f c z", "h hl bin"),
		tarOf(t, "d c/", "f c/fresh f"),
	)
	var names []string
	for p := range fs {
		names = append(names, p)
	}
	want := map[string]bool{"/a": true, "/a/sub": true, "/a/sub/old": true, "/b": true, "/b/new": true, "/c": true, "/c/fresh": true, "/bin": true, "/hl": true}
	if len(fs) != len(want) {
		t.Errorf("flattened paths %v, want %v", names, want)
	}
	for p := range want {
		if _, ok := fs[p]; !ok {
			t.Errorf("%s is missing from %v", p, names)
		}
	}
	if fs["/hl"] != fs["/bin"] || fs["/hl"].mode != 0o4755 || fs["/hl"].typ != tar.TypeReg {
		t.Errorf("hard link %v, its target %v", fs["/hl"], fs["/bin"])
	}
	// The comparison reports each kind of difference and honours ignore.
	other := flattenLayers(t, tarOf(t, "d a/", "d a/sub/", "f a/sub/old changed", "d b/", "f b/new n", "d c/", "f c/fresh f", "f bin su", "l hl bin", "f extra e"))
	diffs := strings.Join(diffFS(fs, other, "want", "got", []string{"/extra"}), "\n")
	for _, d := range []string{"/a/sub/old: want file 0644 0:0 sha256:", "/bin: want file 4755", "/hl: want file 4755 0:0 sha256:", "-> bin"} {
		if !strings.Contains(diffs, d) {
			t.Errorf("the differences lack %q:\n%s", d, diffs)
		}
	}
	if strings.Contains(diffs, "/extra") || strings.Contains(diffs, "/c/fresh") {
		t.Errorf("the differences hold an ignored or equal path:\n%s", diffs)
	}
}

// GANTRY_FAILS is an expected-failure list, not a skip list: a listed
// comparison that matches fails the test, as an unlisted one that differs.
func TestVerdictAgainstGantryFails(t *testing.T) {
	fails := map[string]string{"listed": "a known bug"}
	for _, c := range []struct {
		key    string
		diffs  []string
		failed bool
		says   string
	}{
		{"listed", nil, true, "listed now matches BuildKit: remove it from buildkit/GANTRY_FAILS"},
		{"listed", []string{"/x: only in buildkit"}, false, "as buildkit/GANTRY_FAILS expects (a known bug)"},
		{"other", []string{"/x: only in buildkit"}, true, "other differs from BuildKit (1)"},
		{"other", nil, false, ""},
	} {
		msg, failed := verdict(c.key, c.diffs, fails)
		if failed != c.failed || !strings.Contains(msg, c.says) {
			t.Errorf("%s with %d differences: failed=%v %q", c.key, len(c.diffs), failed, msg)
		}
	}
}

// The lists are read strictly: a malformed or repeated line is an error,
// markdown prose and items outside the list section are not entries.
func TestListFiles(t *testing.T) {
	dir := t.TempDir()
	md := filepath.Join(dir, "k.md")
	os.WriteFile(md, []byte("# Title\n\n- `- CASE: reason` prose item\n\n"+listHeading+"\n\n- case-a: nondeterministic\n- case-b /etc/x: a path\n\nprose\n"), 0o644)
	got, err := listFile(md, true)
	if err != nil || len(got) != 2 || got["case-a"] != "nondeterministic" || got["case-b /etc/x"] != "a path" {
		t.Errorf("markdown list: %v %v", got, err)
	}
	plain := filepath.Join(dir, "fails")
	for _, bad := range []string{"case-a\n", "case-a: x\ncase-a: y\n", "case-a:\n"} {
		os.WriteFile(plain, []byte("# comment\n"+bad), 0o644)
		if got, err := listFile(plain, false); err == nil {
			t.Errorf("%q was accepted: %v", bad, got)
		}
	}
}
