package dockerfile

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/gantry-build/gantry/internal/testenv"
)

// COPY leaves the directories the image already has as they are (mode and
// owner), at the destination's parents and at an existing destination; only
// the directories it creates get defaults: 0755 (or a numeric --chmod, less
// setuid and setgid, as mkdir(2) makes them), owned by --chown. As
// BuildKit's copy does (fsutil MkdirAll for created parents, no
// copyFileInfo on an existing target).
func TestCopyKeepsExistingDirectories(t *testing.T) {
	dir := t.TempDir()
	mkTree(t, dir, map[string]string{
		"seed/tmp/": "", "seed/etc/": "", "seed/w/": "", "f": "hi",
		"real/in/r": "r",
	}, map[string]os.FileMode{"seed/tmp": os.ModeSticky | 0o777, "seed/w": 0o700, "real": 0o750})
	tree, err := dfBuildTree(t, dir, `FROM scratch
COPY --chown=5:6 seed /
COPY f /tmp/f
COPY --chown=1000:1000 f /etc/x
COPY --chown=7:8 f /newdir/sub/f
COPY --chmod=700 f /np/q/f
COPY --chmod=2755 f /sg/f
COPY --chown=9:9 real /tmp
COPY real /newreal
COPY --chown=3:3 real /newreal2/
WORKDIR /w
COPY f .
`, DockerfileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want(t, tree, "tmp", "d 1777 5:6")
	want(t, tree, "tmp/f", "f 644 0:0")
	want(t, tree, "tmp/in", "d 755 9:9") // copied below an existing destination: the source's
	want(t, tree, "etc", "d 755 5:6")
	want(t, tree, "etc/x", "f 644 1000:1000")
	want(t, tree, "newdir", "d 755 7:8")
	want(t, tree, "newdir/sub", "d 755 7:8")
	want(t, tree, "np", "d 700 0:0")
	want(t, tree, "np/q", "d 700 0:0")
	want(t, tree, "np/q/f", "f 700 0:0")
	want(t, tree, "sg", "d 755 0:0")
	want(t, tree, "sg/f", "f 2755 0:0")
	want(t, tree, "newreal", "d 755 0:0") // a created destination is made, not copied: not the source's 0750
	want(t, tree, "newreal/in", "d 755 0:0")
	want(t, tree, "newreal2", "d 755 3:3")
	want(t, tree, "w", "d 700 5:6")
	want(t, tree, "w/f", "f 644 0:0")
}

// COPY to a destination reached through symlinks of the image resolves
// them inside the image: a link to a directory is written into, a link to
// a file (or a dangling one) has its target written; links that climb out
// stay inside the image's root.
func TestCopyDestinationThroughImageSymlinks(t *testing.T) {
	dir := t.TempDir()
	mkTree(t, dir, map[string]string{
		"seed/realdir/": "", "seed/target/file": "old",
		"seed/ldir": "-> /realdir", "seed/lfile": "-> /target/file", "seed/dangling": "-> /nowhere",
		"seed/climb": "-> ../../../../realdir", "seed/rel": "-> realdir",
		"f": "hi",
	}, map[string]os.FileMode{"seed/realdir": 0o700})
	tree, err := dfBuildTree(t, dir, `FROM scratch
COPY seed /
COPY f /ldir/f
COPY f /lfile
COPY f /dangling
COPY f /climb/g
COPY f /rel/sub/h
`, DockerfileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want(t, tree, "ldir", "l 777 0:0")
	want(t, tree, "realdir", "d 700 0:0")
	want(t, tree, "realdir/f", "f 644 0:0")
	want(t, tree, "realdir/g", "f 644 0:0")
	want(t, tree, "realdir/sub/h", "f 644 0:0")
	want(t, tree, "lfile", "l 777 0:0")
	if tree["target/file"].body != "hi" {
		t.Errorf("the link's target file holds %q, want hi", tree["target/file"].body)
	}
	want(t, tree, "dangling", "l 777 0:0")
	want(t, tree, "nowhere", "f 644 0:0")
}

// A source that is a symlink is followed inside its own root (the context,
// a stage): a link to a folder copies the folder's contents, a link to a
// file the file under the link's name, and a link that leads out of the
// root never reaches the host: /etc/shadow through a link is "not found"
// unless the root itself has it. Links inside a copied folder stay links.
func TestCopySourceSymlinksStayInTheirRoot(t *testing.T) {
	dir := t.TempDir()
	mkTree(t, dir, map[string]string{
		"real/in/r": "r", "f": "hi",
		"dirlink": "-> real", "filelink": "-> f", "rootlink": "-> /", "abslink": "-> /etc/passwd", "up": "-> ../../..",
		"stage/l": "-> /etc/shadow", "stage/etc/hostname": "stage's",
		"stage/h": "-> /etc/hostname",
	}, map[string]os.FileMode{"real": 0o750})
	tree, err := dfBuildTree(t, dir, `FROM scratch
COPY dirlink /cdir
COPY dirlink/in /cin
COPY filelink /into/
COPY real /all/
`, DockerfileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want(t, tree, "cdir", "d 755 0:0")
	want(t, tree, "cdir/in/r", "f 644 0:0")
	want(t, tree, "cin/r", "f 644 0:0")
	want(t, tree, "into/filelink", "f 644 0:0")
	if tree["into/filelink"].body != "hi" {
		t.Errorf("into/filelink holds %q", tree["into/filelink"].body)
	}
	for _, src := range []string{"rootlink/etc/shadow", "rootlink/etc/passwd", "abslink", "up/etc/passwd", "real/../../etc/passwd"} {
		if _, err := dfBuildTree(t, dir, "FROM scratch\nCOPY "+src+" /x\n", DockerfileOptions{}); err == nil || !strings.Contains(err.Error(), "not found") {
			t.Errorf("COPY %s: %v, want not found", src, err)
		}
	}
	// In a stage, a link is resolved inside the stage's root.
	df := "FROM scratch AS s\nCOPY stage /\nFROM scratch\nCOPY --from=s /h /x\n"
	tree, err = dfBuildTree(t, dir, df, DockerfileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if tree["x"].body != "stage's" {
		t.Errorf("COPY --from a stage's link: %q, want the stage's file", tree["x"].body)
	}
	df = "FROM scratch AS s\nCOPY stage /\nFROM scratch\nCOPY --from=s /l /x\n"
	if _, err := dfBuildTree(t, dir, df, DockerfileOptions{}); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("COPY --from a stage's link to /etc/shadow: %v, want not found", err)
	}
	// A named folder context is a root of its own too.
	df = "FROM scratch\nCOPY --from=extra rootlink/etc/passwd /x\n"
	if _, err := dfBuildTree(t, dir, df, DockerfileOptions{Contexts: map[string]string{"extra": dir}}); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("COPY --from a named context through a link to /: %v, want not found", err)
	}
}

// A wildcard that matches nothing copies nothing, without error and
// without making the destination, as BuildKit's AllowEmptyWildcard; a
// plain name that is missing is an error.
func TestCopyEmptyWildcard(t *testing.T) {
	dir := t.TempDir()
	mkTree(t, dir, map[string]string{"f": "hi"}, nil)
	tree, err := dfBuildTree(t, dir, "FROM scratch\nCOPY nomatch* /x/\nCOPY f nomatch* /y/\n", DockerfileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := tree["x"]; ok {
		t.Error("an empty wildcard made its destination")
	}
	want(t, tree, "y/f", "f 644 0:0")
	if _, err := dfBuildTree(t, dir, "FROM scratch\nCOPY missing /x/\n", DockerfileOptions{}); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("a missing source: %v", err)
	}
}

// --chmod takes every mode bit (setuid, setgid, sticky) and BuildKit's
// symbolic forms, applied to each file's own mode.
func TestCopyChmodBits(t *testing.T) {
	dir := t.TempDir()
	mkTree(t, dir, map[string]string{"f": "hi", "d/g": "g"}, map[string]os.FileMode{"f": 0o600})
	tree, err := dfBuildTree(t, dir, `FROM scratch
COPY --chmod=4755 f /suid
COPY --chmod=1777 d /sticky/
COPY --chmod=u+x,g-r f /sym/q/f
COPY --chmod=a+rX d /symd
`, DockerfileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want(t, tree, "suid", "f 4755 0:0")
	want(t, tree, "sticky", "d 1777 0:0")
	want(t, tree, "sticky/g", "f 1777 0:0")
	want(t, tree, "sym", "d 755 0:0")
	want(t, tree, "sym/q/f", "f 700 0:0")
	want(t, tree, "symd/g", "f 644 0:0")
	for _, bad := range []string{"99999", "u+q"} {
		if _, err := dfBuildTree(t, dir, "FROM scratch\nCOPY --chmod="+bad+" f /x\n", DockerfileOptions{}); err == nil {
			t.Errorf("--chmod=%s was accepted", bad)
		}
	}
}

// COPY cannot put a file where the image has a directory, nor a directory
// where it has a file, as BuildKit refuses.
func TestCopyTypeConflicts(t *testing.T) {
	dir := t.TempDir()
	mkTree(t, dir, map[string]string{"seed/x/sub/": "", "seed/y/file": "f", "src/sub": "a file", "src2/file/": "", "f": "hi"}, nil)
	cases := map[string]string{
		"COPY src /x\n":   "cannot replace to directory",
		"COPY src2 /y\n":  "cannot copy to non-directory",
		"COPY src2 /f2\n": "", // fine: nothing there
	}
	for line, msg := range cases {
		_, err := dfBuildTree(t, dir, "FROM scratch\nCOPY seed /\nCOPY f /f2\n"+line, DockerfileOptions{})
		if msg == "" {
			if err == nil || !strings.Contains(err.Error(), "cannot copy to non-directory") {
				t.Errorf("%s: %v, want cannot copy to non-directory", strings.TrimSpace(line), err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s: %v, want %q", strings.TrimSpace(line), err, msg)
		}
	}
}

// ADD of a local archive: entries keep the archive's owners unless --chown
// is given, 0:0 included (BuildKit's untar with ChownOpts); the folder it
// unpacks into keeps its mode and owner when the image has it.
func TestAddArchiveChown(t *testing.T) {
	dir := t.TempDir()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "top/", Typeflag: tar.TypeDir, Mode: 0o755, Uid: 5, Gid: 5})
	tw.WriteHeader(&tar.Header{Name: "top/a", Typeflag: tar.TypeReg, Mode: 0o644, Uid: 5, Gid: 5, Size: 1})
	tw.Write([]byte("a"))
	tw.Close()
	mkTree(t, dir, map[string]string{"seed/keep/": ""}, map[string]os.FileMode{"seed/keep": 0o700})
	os.WriteFile(filepath.Join(dir, "a.tar"), buf.Bytes(), 0o644)
	tree, err := dfBuildTree(t, dir, `FROM scratch
COPY --chown=3:3 seed /
ADD --chown=0:0 a.tar /arch/
ADD a.tar /arch2/
ADD --chown=7:7 a.tar /arch3/
ADD a.tar /keep/
`, DockerfileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want(t, tree, "arch", "d 755 0:0")
	want(t, tree, "arch/top", "d 755 0:0")
	want(t, tree, "arch/top/a", "f 644 0:0")
	want(t, tree, "arch2/top/a", "f 644 5:5")
	want(t, tree, "arch3", "d 755 7:7")
	want(t, tree, "arch3/top/a", "f 644 7:7")
	want(t, tree, "keep", "d 700 3:3")
	want(t, tree, "keep/top/a", "f 644 5:5")
}

// WORKDIR makes the directories the image lacks owned by the current
// USER (BuildKit's llb.Mkdir WithUser), and follows the image's symlinks
// inside the image, a dangling one too; the config keeps the path as
// written.
func TestWorkdirOwnerAndSymlinks(t *testing.T) {
	dir := t.TempDir()
	mkTree(t, dir, map[string]string{
		"seed/etc/passwd": "root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n",
		"seed/wl/":        "", "seed/wlink": "-> /wl", "seed/wdang": "-> /wnone", "seed/up": "-> ../../..",
	}, nil)
	o := DockerfileOptions{}
	tree, err := dfBuildTree(t, dir, `FROM scratch
COPY seed /
USER app
WORKDIR /wd/sub
WORKDIR /wlink/in
WORKDIR /wdang/in
USER 7:8
WORKDIR /up/climbed
`, o)
	if err != nil {
		t.Fatal(err)
	}
	want(t, tree, "wd", "d 755 1000:1001")
	want(t, tree, "wd/sub", "d 755 1000:1001")
	want(t, tree, "wlink", "l 777 0:0")
	want(t, tree, "wl", "d 755 0:0")
	want(t, tree, "wl/in", "d 755 1000:1001")
	want(t, tree, "wdang", "l 777 0:0")
	want(t, tree, "wnone", "d 755 1000:1001")
	want(t, tree, "wnone/in", "d 755 1000:1001")
	want(t, tree, "climbed", "d 755 7:8")
}

// A .dockerignore that leaves out everything but some names ("*" then
// "!a.txt"): COPY . copies what is brought back, and a folder left out
// whose children come back is copied with its own mode, as BuildKit's
// context transfer sends it.
func TestDockerignoreReincludedChildren(t *testing.T) {
	dir := t.TempDir()
	mkTree(t, dir, map[string]string{
		".dockerignore": "*\n!a.txt\n!sub/a.txt\n!sub/deep\n",
		"a.txt":         "a", "b.txt": "b", "sub/a.txt": "s", "sub/x": "x", "sub/deep/a.txt": "d", "other/o": "o",
	}, map[string]os.FileMode{"sub": 0o700, "sub/deep": 0o750})
	tree, err := dfBuildTree(t, dir, "FROM scratch\nCOPY . /app/\n", DockerfileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for name := range tree {
		got = append(got, name)
	}
	sort.Strings(got)
	if w := "app app/a.txt app/sub app/sub/a.txt app/sub/deep app/sub/deep/a.txt"; strings.Join(got, " ") != w {
		t.Errorf("files: %s\nwant:  %s", strings.Join(got, " "), w)
	}
	want(t, tree, "app/sub", "d 700 0:0")
	want(t, tree, "app/sub/deep", "d 750 0:0")
}

// --chown=USER: with an empty group is --chown=USER, as BuildKit's
// llb.WithUser reads it: a name takes its primary group from /etc/passwd,
// a number the same number.
func TestCopyChownEmptyGroup(t *testing.T) {
	dir := t.TempDir()
	mkTree(t, dir, map[string]string{
		"f":      "f",
		"passwd": "root:x:0:0:root:/root:/bin/sh\ntestuser:x:1000:2000::/home/testuser:/bin/sh\n",
		"group":  "root:x:0:\ntestgroup:x:2000:testuser\n",
	}, nil)
	tree, err := dfBuildTree(t, dir, "FROM scratch\nCOPY passwd group /etc/\n"+
		"COPY --chown=testuser: f /byname\nCOPY --chown=1000: f /bynumber\nCOPY --chown=testuser f /plain\n", DockerfileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want(t, tree, "byname", "f 644 1000:2000")
	want(t, tree, "bynumber", "f 644 1000:1000")
	want(t, tree, "plain", "f 644 1000:2000")
}

// A symlink ADD unpacks from an archive has mode 0777 in the layer,
// whatever the archive says, as BuildKit's untar makes it on disk.
func TestAddArchiveSymlinkMode(t *testing.T) {
	dir := t.TempDir()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "symlink", Typeflag: tar.TypeSymlink, Linkname: "tmp/target", Mode: 0o755})
	tw.Close()
	os.WriteFile(filepath.Join(dir, "t.tar"), buf.Bytes(), 0o644)
	tree, err := dfBuildTree(t, dir, "FROM scratch\nADD t.tar /\n", DockerfileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want(t, tree, "symlink", "l 777 0:0")
}

// tarOf is an archive of headers; a regular file's body is its Linkname
// field (moved into the content).
func tarOf(t *testing.T, hs ...tar.Header) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range hs {
		body := ""
		if h.Typeflag == tar.TypeReg {
			body, h.Linkname, h.Size = h.Linkname, "", int64(len(h.Linkname))
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(body))
	}
	tw.Close()
	return buf.Bytes()
}

// ADD unpacks an archive as BuildKit's chrootarchive.Untar does: parents
// the archive leaves out are made (0755, root, --chown or not; moby/moby
// #53257), and paths go through the symlinks of the image and of the
// archive, resolved with the destination as their root (moby/moby#53258),
// hard links too.
func TestAddArchiveImpliedParentsAndSymlinks(t *testing.T) {
	dir := t.TempDir()
	mkTree(t, dir, map[string]string{"seed/var/run": "-> /run", "seed/run/": "", "seed/run/lowerfile": "low",
		"seed/sub/var/run": "-> /run", "seed/sub/run/lowerfile": "sublow"}, nil)
	os.WriteFile(filepath.Join(dir, "implied.tar"), tarOf(t,
		tar.Header{Name: "etc/dnf/", Typeflag: tar.TypeDir, Mode: 0o700},
		tar.Header{Name: "etc/dnf/dnf.conf", Typeflag: tar.TypeReg, Mode: 0o644, Linkname: "conf"},
	), 0o644)
	os.WriteFile(filepath.Join(dir, "payload.tar"), tarOf(t,
		tar.Header{Name: "var/run/act/", Typeflag: tar.TypeDir, Mode: 0o750},
		tar.Header{Name: "var/run/act/HEAD", Typeflag: tar.TypeReg, Mode: 0o644, Linkname: "ref"},
		tar.Header{Name: "var/run/act/HEAD.link", Typeflag: tar.TypeLink, Linkname: "var/run/act/HEAD"},
		tar.Header{Name: "var/run/act/up", Typeflag: tar.TypeSymlink, Linkname: "/var/run", Mode: 0o755},
		tar.Header{Name: "var/run/act/up/viaup", Typeflag: tar.TypeReg, Mode: 0o600, Linkname: "v"},
		tar.Header{Name: "var/run/low.link", Typeflag: tar.TypeLink, Linkname: "var/run/lowerfile"},
	), 0o644)
	tree, err := dfBuildTree(t, dir, `FROM scratch
COPY seed /
ADD implied.tar /
ADD --chown=7:7 implied.tar /c/
ADD payload.tar /
ADD payload.tar /sub/
`, DockerfileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want(t, tree, "etc", "d 755 0:0")
	want(t, tree, "etc/dnf", "d 700 0:0")
	want(t, tree, "c", "d 755 7:7")
	want(t, tree, "c/etc", "d 755 0:0")
	want(t, tree, "c/etc/dnf/dnf.conf", "f 644 7:7")
	want(t, tree, "var/run", "l 777 0:0")
	for _, root := range []string{"", "sub/"} {
		want(t, tree, root+"run/act", "d 750 0:0")
		want(t, tree, root+"run/act/HEAD", "f 644 0:0")
		want(t, tree, root+"run/act/up", "l 777 0:0")
		want(t, tree, root+"run/viaup", "f 600 0:0")
		if n, ok := tree[root+"run/act/HEAD.link"]; !ok || n.link != root+"run/act/HEAD" && n.body != "ref" {
			t.Errorf("%srun/act/HEAD.link: %v, want a link to %srun/act/HEAD", root, n, root)
		}
		if n := tree[root+"run/low.link"]; n.link != root+"run/lowerfile" {
			t.Errorf("%srun/low.link: %v, want a link to %srun/lowerfile", root, n, root)
		}
		want(t, tree, root+"run/lowerfile", "f 644 0:0")
	}
	for name := range tree {
		if strings.HasPrefix(name, "var/run/") || strings.HasPrefix(name, "sub/var/run/") {
			t.Errorf("%s: written through the link instead of at its target", name)
		}
	}
}

// An ADD archive's content is part of the step's cache key: a changed
// archive of the same name is unpacked again, not taken from the cache.
func TestAddArchiveContentInCacheKey(t *testing.T) {
	dir := t.TempDir()
	st, rc := testenv.Store(t), testenv.Client(t)
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\nADD t.tar /\n"), 0o644)
	for _, body := range []string{"one", "two"} {
		os.WriteFile(filepath.Join(dir, "t.tar"), tarOf(t, tar.Header{Name: "f", Typeflag: tar.TypeReg, Mode: 0o644, Linkname: body}), 0o644)
		res, err := FromDockerfile(context.Background(), st, rc, DockerfileOptions{Context: dir})
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(mutate.Extract(res.Image))
		h, err := tr.Next()
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(tr)
		if h.Name != "f" || string(got) != body {
			t.Errorf("after writing %q into the archive: %s has %q", body, h.Name, got)
		}
	}
}
