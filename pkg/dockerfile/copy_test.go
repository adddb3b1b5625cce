package dockerfile

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/gantry-build/gantry/internal/testenv"
	"github.com/gantry-build/gantry/internal/treetest"
)

// dfBuildFiles builds the Dockerfile text in ctxDir (FROM scratch, no RUN)
// and returns the files of the image, path → content ("/" for folders).
func dfBuildFiles(t *testing.T, ctxDir, dockerfile string) (map[string]string, error) {
	return dfBuildFilesWith(t, ctxDir, dockerfile, DockerfileOptions{})
}

func dfBuildFilesWith(t *testing.T, ctxDir, dockerfile string, o DockerfileOptions) (map[string]string, error) {
	t.Helper()
	st, rc := testenv.Store(t), testenv.Client(t)
	os.WriteFile(filepath.Join(ctxDir, "Dockerfile"), []byte(dockerfile), 0o644)
	o.Context = ctxDir
	res, err := FromDockerfile(context.Background(), st, rc, o)
	if err != nil {
		return nil, err
	}
	files := map[string]string{}
	treetest.EachInTar(t, mutate.Extract(res.Image), func(h *tar.Header, b []byte) {
		if h.Typeflag == tar.TypeDir {
			b = []byte("/")
		}
		files[strings.TrimSuffix(h.Name, "/")] = string(b)
	})
	return files, nil
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func names(files map[string]string) string {
	var out []string
	for n, body := range files {
		if body != "/" {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

// The context's .dockerignore holds for every source, with paths relative
// to the context (not only for COPY .), a folder's own .dockerignore is a
// plain file, and a source it leaves out is not found.
func TestDockerignoreAppliesToEverySource(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		".dockerignore": "logs/*.log\n!logs/keep.log\n*.md\nsub/secret.txt\n",
		"logs/a.log":    "a", "logs/keep.log": "keep",
		"README.md": "readme", "top.txt": "top", "other.txt": "other",
		"sub/.dockerignore": "x.txt\n", "sub/secret.txt": "secret", "sub/x.txt": "x",
	})
	files, err := dfBuildFiles(t, dir, "FROM scratch\nCOPY logs /logs\nCOPY *.txt /txt/\nCOPY sub /sub\n")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := names(files), "logs/keep.log sub/.dockerignore sub/x.txt txt/other.txt txt/top.txt"; got != want {
		t.Errorf("files: %s\nwant:  %s", got, want)
	}
	if _, err := dfBuildFiles(t, dir, "FROM scratch\nCOPY README.md /r\n"); err == nil || !strings.Contains(err.Error(), "README.md: not found in the build context") {
		t.Errorf("COPY of an ignored file: %v", err)
	}
	// A Dockerfile's own ignore file wins over the context's.
	os.WriteFile(filepath.Join(dir, "Dockerfile.dockerignore"), []byte("top.txt\n"), 0o644)
	files, err = dfBuildFiles(t, dir, "FROM scratch\nCOPY *.md *.txt /all/\n")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := names(files), "all/README.md all/other.txt"; got != want {
		t.Errorf("with Dockerfile.dockerignore: %s, want %s", got, want)
	}
}

// COPY --exclude leaves out what it names, relative to each source;
// COPY --parents keeps each source's path below the context (or below a
// "/./" in the pattern).
func TestCopyExcludeAndParents(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"logs/a.log": "a", "logs/b.txt": "b", "logs/deep/c.log": "c",
		"a/b/x.txt": "x", "a/b/y.txt": "y", "a/c/z.txt": "z", "n.log": "n",
	})
	files, err := dfBuildFiles(t, dir, "FROM scratch\n"+
		"COPY --exclude=*.log --exclude=deep/*.log logs /l/\n"+
		"COPY --exclude=*.log n.log a/b/x.txt /f/\n"+
		"COPY --parents a/*/*.txt /p/\n"+
		"COPY --parents ./a/./b/y.txt /q/\n")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := names(files), "f/n.log f/x.txt l/b.txt p/a/b/x.txt p/a/b/y.txt p/a/c/z.txt q/b/y.txt"; got != want {
		t.Errorf("files: %s\nwant:  %s", got, want)
	}
}

// --exclude holds for what lies below each source, as BuildKit's copy
// matches it (fsutil: the path below the source; a source itself, file or
// folder, is never left out); with --parents the source is the base the
// patterns are below (the context, or what precedes "/./"), so the
// patterns are relative to it. The expected files are what BuildKit
// v0.34.2 made of this Dockerfile.
func TestCopyExcludeIsBelowEachSourceAsBuildKits(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"n.log": "n", "a/b/x.txt": "x", "a/b/y.log": "y", "a/c/z.txt": "z"})
	files, err := dfBuildFiles(t, dir, "FROM scratch\n"+
		"COPY --exclude=*.log n.log a/b/x.txt /f/\n"+
		"COPY --exclude=*.log *.log /g/\n"+
		"COPY --exclude=x.txt a/b/x.txt /h/\n"+
		"COPY --exclude=b a/b /i/\n"+
		"COPY --exclude=a/b a /j/\n"+
		"COPY --exclude=*.log a /k/\n"+
		"COPY --parents --exclude=a/c a/*/*.txt /p/\n"+
		"COPY --parents --exclude=c a/*/*.txt /q/\n"+
		"COPY --parents --exclude=*.log a/b /r/\n"+
		"COPY --parents --exclude=a/b/*.log a/b /s/\n"+
		"COPY --parents --exclude=z.txt a/c/z.txt /t/\n"+
		"COPY --parents --exclude=b/*.log ./a/./b /u/\n")
	if err != nil {
		t.Fatal(err)
	}
	want := "f/n.log f/x.txt g/n.log h/x.txt i/x.txt i/y.log j/b/x.txt j/b/y.log j/c/z.txt k/b/x.txt k/b/y.log k/c/z.txt " +
		"p/a/b/x.txt q/a/b/x.txt q/a/c/z.txt r/a/b/x.txt r/a/b/y.log s/a/b/x.txt t/a/c/z.txt u/b/x.txt"
	if got := names(files); got != want {
		t.Errorf("files: %s\nwant:  %s", got, want)
	}
}

// ADD --checksum verifies a URL's content; --unpack=true unpacks a
// downloaded archive, --unpack=false keeps a local one whole; git sources
// say they are not supported.
func TestAddChecksumAndUnpack(t *testing.T) {
	var tgz bytes.Buffer
	zw := gzip.NewWriter(&tgz)
	tw := tar.NewWriter(zw)
	tw.WriteHeader(&tar.Header{Name: "inside.txt", Mode: 0o644, Size: 6, Typeflag: tar.TypeReg})
	tw.Write([]byte("inside"))
	tw.Close()
	zw.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/plain.txt":
			io.WriteString(w, "plain")
		case "/a.tar.gz":
			w.Write(tgz.Bytes())
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "local.tar.gz"), tgz.Bytes(), 0o644)
	sum := sha256.Sum256([]byte("plain"))
	good := "sha256:" + hex.EncodeToString(sum[:])

	files, err := dfBuildFiles(t, dir, "FROM scratch\n"+
		"ADD --checksum="+good+" "+srv.URL+"/plain.txt /c/\n"+
		"ADD --unpack=true "+srv.URL+"/a.tar.gz /u/\n"+
		"ADD --unpack=false local.tar.gz /v/\n"+
		"ADD local.tar.gz /w/\n")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := names(files), "c/plain.txt u/inside.txt v/local.tar.gz w/inside.txt"; got != want {
		t.Errorf("files: %s\nwant:  %s", got, want)
	}
	bad := "sha256:" + strings.Repeat("0", 64)
	if _, err := dfBuildFiles(t, dir, "FROM scratch\nADD --checksum="+bad+" "+srv.URL+"/plain.txt /c/\n"); err == nil || !strings.Contains(err.Error(), "but --checksum says "+bad) {
		t.Errorf("a wrong checksum: %v", err)
	}
	if _, err := dfBuildFiles(t, dir, "FROM scratch\nADD --checksum="+good+" local.tar.gz /c/\n"); err == nil || !strings.Contains(err.Error(), "one URL source only") {
		t.Errorf("a checksum on a local file: %v", err)
	}
}

// ADD of a git repository, REPO#REF[:SUBDIR] as BuildKit reads it: the
// checkout's files at REF, without .git unless --keep-git-dir. The
// repository is served over plain ("dumb") HTTP from a test server.
func TestAddGitRepository(t *testing.T) {
	work := t.TempDir()
	git := func(dir string, args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
	}
	src := filepath.Join(work, "src")
	os.MkdirAll(filepath.Join(src, "docs"), 0o755)
	git(src, "init", "-q", "-b", "main")
	os.WriteFile(filepath.Join(src, "README"), []byte("v1"), 0o644)
	os.WriteFile(filepath.Join(src, "docs", "guide.txt"), []byte("guide"), 0o644)
	git(src, "add", ".")
	git(src, "commit", "-q", "-m", "one")
	git(src, "tag", "v1")
	os.WriteFile(filepath.Join(src, "README"), []byte("v2"), 0o644)
	git(src, "commit", "-q", "-am", "two")
	git(work, "clone", "-q", "--bare", src, filepath.Join(work, "repo.git"))
	git(filepath.Join(work, "repo.git"), "update-server-info")
	srv := httptest.NewServer(http.FileServer(http.Dir(work)))
	defer srv.Close()
	repo := srv.URL + "/repo.git"

	files, err := dfBuildFiles(t, t.TempDir(), "FROM scratch\n"+
		"ADD "+repo+" /head/\n"+
		"ADD "+repo+"#v1 /v1/\n"+
		"ADD "+repo+"#main:docs /docs/\n"+
		"ADD --keep-git-dir=true "+repo+"#v1 /kept/\n")
	if err != nil {
		t.Fatal(err)
	}
	if files["head/README"] != "v2" || files["v1/README"] != "v1" || files["docs/guide.txt"] != "guide" {
		t.Errorf("checkouts: head %q, v1 %q, docs %q", files["head/README"], files["v1/README"], files["docs/guide.txt"])
	}
	if _, ok := files["head/.git"]; ok {
		t.Error(".git was kept without --keep-git-dir")
	}
	if _, ok := files["kept/.git/HEAD"]; !ok {
		t.Error(".git was dropped with --keep-git-dir=true")
	}
	if _, err := dfBuildFiles(t, t.TempDir(), "FROM scratch\nADD "+repo+"#no-such-ref /x/\n"); err == nil || !strings.Contains(err.Error(), "no-such-ref") {
		t.Errorf("a missing ref: %v", err)
	}
}

// Named contexts, as buildx's --build-context: a folder COPY --from reads,
// an image FROM names; FROM of a folder is refused.
func TestBuildContexts(t *testing.T) {
	extra := t.TempDir()
	writeFiles(t, extra, map[string]string{"lib/a.txt": "from the extra context", "secret.txt": "s", ".dockerignore": "secret.txt\n"})
	o := DockerfileOptions{Contexts: map[string]string{"extra": extra, "base": "docker-image://scratch"}}
	files, err := dfBuildFilesWith(t, t.TempDir(), "FROM base\nCOPY --from=extra lib/a.txt /a.txt\n", o)
	if err != nil {
		t.Fatal(err)
	}
	if files["a.txt"] != "from the extra context" {
		t.Errorf("files: %v", files)
	}
	// The folder's own .dockerignore holds, as BuildKit reads it.
	if _, err := dfBuildFilesWith(t, t.TempDir(), "FROM scratch\nCOPY --from=extra secret.txt /s\n", o); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("COPY of a file the named context ignores: %v", err)
	}
	if _, err := dfBuildFilesWith(t, t.TempDir(), "FROM extra\n", o); err == nil || !strings.Contains(err.Error(), "is a folder") {
		t.Errorf("FROM a folder context: %v", err)
	}
}

// A "# check=" directive before an instruction (BuildKit's lint settings)
// is read, not a crash (BuildKit's parser panicked on a nil linter).
func TestCheckDirectiveIsNoCrash(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a"), []byte("a"), 0o644)
	files, err := dfBuildFiles(t, dir, "# check=skip=InvalidDefinitionDescription\n\nFROM scratch\n# check=error=true\nCOPY a /a\n")
	if err != nil || files["a"] != "a" {
		t.Fatalf("files %v, err %v", files, err)
	}
}

// COPY --link makes its layer on nothing, as BuildKit copies onto scratch
// and merges the result: the destination is not resolved through the
// image's links nor made a folder by one the image has there, and the
// folders the layer makes are its own (0755, root), whatever the image has
// at their paths. The expected entries are those of BuildKit v0.34.2's
// layer for the same steps.
func TestCopyLinkMakesItsLayerOnNothing(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"f.txt": "f", "base/data/keep": "old", "base/opt/x": "x"})
	if err := os.Symlink("/data", filepath.Join(dir, "base", "app")); err != nil {
		t.Fatal(err)
	}
	os.Chmod(filepath.Join(dir, "base", "opt"), 0o700)
	st, rc := testenv.Store(t), testenv.Client(t)
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\n"+
		"COPY base/ /\n"+
		"COPY --link f.txt /data\n"+
		"COPY --link f.txt /app/linked.txt\n"+
		"COPY --link f.txt /opt/deep/\n"), 0o644)
	res, err := FromDockerfile(context.Background(), st, rc, DockerfileOptions{Context: dir})
	if err != nil {
		t.Fatal(err)
	}
	layers, err := res.Image.Layers()
	if err != nil || len(layers) != 4 {
		t.Fatalf("%d layers (%v), want 4", len(layers), err)
	}
	var got []string
	for _, l := range layers[1:] {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		treetest.EachInTar(t, rc, func(h *tar.Header, _ []byte) {
			names = append(names, fmt.Sprintf("%s %c %o %d:%d", h.Name, h.Typeflag, h.Mode&0o7777, h.Uid, h.Gid))
		})
		rc.Close()
		got = append(got, strings.Join(names, ", "))
	}
	want := []string{
		"data 0 644 0:0",
		"app/ 5 755 0:0, app/linked.txt 0 644 0:0",
		"opt/ 5 755 0:0, opt/deep/ 5 755 0:0, opt/deep/f.txt 0 644 0:0",
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("layer of step %d: %s\nwant: %s", i+2, got[i], want[i])
		}
	}
}

// COPY --link --chown takes numbers only, as BuildKit's: the layer is made
// on nothing, with no /etc/passwd to read names in.
func TestCopyLinkChownTakesNumbersOnly(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"f.txt": "f", "etc/passwd": "svc:x:777:888::/:/bin/sh\n", "etc/group": "g:x:888:\n"})
	_, err := dfBuildFiles(t, dir, "FROM scratch\nCOPY etc /etc\nCOPY --link --chown=svc:g f.txt /o/\n")
	if err == nil || !strings.Contains(err.Error(), "use numeric uid[:gid] instead") {
		t.Errorf("got %v, want BuildKit's refusal of names", err)
	}
	files, err := dfBuildFiles(t, dir, "FROM scratch\nCOPY etc /etc\nCOPY --link --chown=777:888 f.txt /o/\nCOPY --chown=svc:g f.txt /p/\n")
	if err != nil {
		t.Fatal(err)
	}
	if files["o/f.txt"] != "f" || files["p/f.txt"] != "f" {
		t.Errorf("files: %s", names(files))
	}
}
