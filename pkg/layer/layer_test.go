package layer

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gantry-build/gantry/internal/treetest"
	"github.com/gantry-build/gantry/pkg/store"
)

// tree makes a source folder: an executable script, a data file, a symlink
// pointing outside, an empty directory and an ignored file.
func tree(t *testing.T, mtime time.Time) string {
	t.Helper()
	dir := t.TempDir()
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(dir, "run.sh"), []byte("#!/bin/sh\necho hi\n"), 0o755))
	must(os.MkdirAll(filepath.Join(dir, "data"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "data", "a.txt"), []byte("data"), 0o640))
	must(os.Symlink("/etc/passwd", filepath.Join(dir, "outside")))
	must(os.MkdirAll(filepath.Join(dir, "empty"), 0o700))
	must(os.WriteFile(filepath.Join(dir, "secret.key"), []byte("k"), 0o600))
	must(os.WriteFile(filepath.Join(dir, ".dockerignore"), []byte("*.key\n"), 0o644))
	filepath.Walk(dir, func(p string, _ fs.FileInfo, _ error) error {
		os.Chtimes(p, mtime, mtime)
		return nil
	})
	return dir
}

func entriesOf(t *testing.T, adds []Add, o Options) (map[string]*tar.Header, []byte) {
	t.Helper()
	es, err := Collect(adds, o)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Write(&buf, es, o); err != nil {
		t.Fatal(err)
	}
	out := map[string]*tar.Header{}
	treetest.EachInTar(t, bytes.NewReader(buf.Bytes()), func(h *tar.Header, _ []byte) { out[h.Name] = h })
	return out, buf.Bytes()
}

func TestCollectCopyRules(t *testing.T) {
	src := tree(t, time.Now())
	hdrs, _ := entriesOf(t, []Add{{Src: src, Dest: "/app/"}, {Src: filepath.Join(src, "run.sh"), Dest: "/usr/local/bin/"}}, Options{UID: 1000, GID: 1000})
	for name, want := range map[string]byte{
		"app/":                 tar.TypeDir,
		"app/run.sh":           tar.TypeReg,
		"app/data/a.txt":       tar.TypeReg,
		"app/outside":          tar.TypeSymlink,
		"app/empty/":           tar.TypeDir,
		"usr/":                 tar.TypeDir,
		"usr/local/bin/run.sh": tar.TypeReg,
	} {
		h, ok := hdrs[name]
		if !ok {
			t.Errorf("%s missing; have %v", name, keys(hdrs))
			continue
		}
		if h.Typeflag != want {
			t.Errorf("%s: type %c, want %c", name, h.Typeflag, want)
		}
	}
	if h := hdrs["app/outside"]; h != nil && h.Linkname != "/etc/passwd" {
		t.Errorf("symlink target %q", h.Linkname)
	}
	if h := hdrs["app/run.sh"]; h != nil && (h.Mode&0o111 == 0 || h.Uid != 1000 || h.Gid != 1000) {
		t.Errorf("run.sh: mode %o owner %d:%d", h.Mode, h.Uid, h.Gid)
	}
	if _, ok := hdrs["app/secret.key"]; ok {
		t.Error(".dockerignore was not honoured")
	}
	if h := hdrs["app/empty/"]; h != nil && h.Mode&0o777 != 0o700 {
		t.Errorf("empty dir mode %o", h.Mode)
	}
	// A file to a path without a trailing slash is renamed.
	hdrs, _ = entriesOf(t, []Add{{Src: filepath.Join(src, "run.sh"), Dest: "/entry"}}, Options{})
	if _, ok := hdrs["entry"]; !ok {
		t.Errorf("file to /entry: %v", keys(hdrs))
	}
}

func keys(m map[string]*tar.Header) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestSameFilesSameBytes(t *testing.T) {
	a := tree(t, time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC))
	b := tree(t, time.Date(2023, 6, 6, 6, 6, 6, 0, time.UTC))
	o := Options{Time: time.Unix(0, 0)}
	_, ta := entriesOf(t, []Add{{Src: a, Dest: "/app"}}, o)
	_, tb := entriesOf(t, []Add{{Src: b, Dest: "/app"}}, o)
	if !bytes.Equal(ta, tb) {
		t.Fatal("two copies of a folder with different mtimes give different tars")
	}
}

func TestBadAdds(t *testing.T) {
	if _, err := Collect([]Add{{Src: "/no/such/dir", Dest: "/x"}}, Options{}); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("missing SRC: %v", err)
	}
	if _, err := Collect([]Add{{Src: t.TempDir(), Dest: "rel"}}, Options{}); err == nil || !strings.Contains(err.Error(), "absolute") {
		t.Errorf("relative DEST without WORKDIR: %v", err)
	}
	if es, err := Collect([]Add{{Src: tree(t, time.Now()), Dest: "rel/"}}, Options{Workdir: "/work"}); err != nil || es[0].Name != "work" {
		t.Errorf("relative DEST with WORKDIR: %v %v", es, err)
	}
	if _, err := ParseAdd("nodest"); err == nil {
		t.Error("ParseAdd accepted SRC without DEST")
	}
}

func TestFileChangingWhileReadFails(t *testing.T) {
	src := tree(t, time.Now().Add(-time.Hour))
	es, err := Collect([]Add{{Src: src, Dest: "/app"}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(src, "run.sh"), []byte("#!/bin/sh\necho changed and longer\n"), 0o755)
	err = Write(io.Discard, es, Options{})
	if err == nil || !strings.Contains(err.Error(), "changed while it was being read") {
		t.Fatalf("err = %v", err)
	}
}

// buildApp builds src's tree as /app, gzip, dated 1970.
func buildApp(t *testing.T, st *store.Store, src string) Built {
	t.Helper()
	o := Options{Time: time.Unix(0, 0)}
	es, err := Collect([]Add{{Src: src, Dest: "/app"}}, o)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Build(context.Background(), st, es, o, Gzip, false)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBuildStoresAndCaches(t *testing.T) {
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	build := func(src string) Built { return buildApp(t, st, src) }
	src := tree(t, time.Now())
	first := build(src)
	if first.Cached || !st.HasBlob(first.Descriptor.Digest) {
		t.Fatalf("first build %+v", first)
	}
	again := build(src)
	if !again.Cached || again.Descriptor.Digest != first.Descriptor.Digest {
		t.Fatalf("unchanged rebuild %+v, want cached %s", again, first.Descriptor.Digest)
	}
	// Touched, same content: re-hashed, still a cache hit.
	later := time.Now().Add(time.Hour)
	os.Chtimes(filepath.Join(src, "run.sh"), later, later)
	if touched := build(src); !touched.Cached || touched.Descriptor.Digest != first.Descriptor.Digest {
		t.Fatalf("touched rebuild %+v", touched)
	}
	// Changed content: built again, another digest.
	os.WriteFile(filepath.Join(src, "data", "a.txt"), []byte("other"), 0o640)
	if changed := build(src); changed.Cached || changed.Descriptor.Digest == first.Descriptor.Digest {
		t.Fatalf("changed rebuild %+v", changed)
	}
	// A copy elsewhere with other mtimes gives the same blob.
	copyB := build(tree(t, time.Now().Add(2*time.Hour)))
	if copyB.Descriptor.Digest != first.Descriptor.Digest {
		t.Fatalf("a copy of the folder gave %s, want %s", copyB.Descriptor.Digest, first.Descriptor.Digest)
	}
	l, err := Open(st, first)
	if err != nil {
		t.Fatal(err)
	}
	rc, _ := l.Uncompressed()
	defer rc.Close()
	tr := tar.NewReader(rc)
	n := 0
	for {
		if _, err := tr.Next(); err != nil {
			break
		}
		n++
	}
	if n < 5 {
		t.Errorf("stored layer has %d entries", n)
	}
}

// The stat cache's file round-trips, and a damaged or older one reads as
// empty (it only costs a re-hash).
func TestHashCacheEncoding(t *testing.T) {
	in := map[string]hashEntry{
		"/src/a.go":   {Stat: fileStat{Size: 10, Mtime: 1700000000123456789, Ctime: 1700000000987654321, Dev: 2049, Ino: 12345}, Sum: sha256.Sum256([]byte("a"))},
		"/src/ü b.go": {Stat: fileStat{Size: 0, Mtime: -1, Ctime: 0, Dev: 0, Ino: 1}, Sum: sha256.Sum256(nil)},
	}
	var b bytes.Buffer
	if err := encodeHashes(&b, in); err != nil {
		t.Fatal(err)
	}
	raw := b.Bytes()
	if got := decodeHashes(raw); !reflect.DeepEqual(got, in) {
		t.Errorf("round trip:\n%v\nwant\n%v", got, in)
	}
	for _, bad := range [][]byte{raw[:len(raw)-5], []byte(`{"/x":{"st":{},"h":""}}`), nil} {
		if got := decodeHashes(bad); len(got) != 0 {
			t.Errorf("a damaged cache gave %d entries", len(got))
		}
	}
}

// The content cache's key is the same bytes whatever builds it: a key that
// moved would make every stored layer a miss. Pinned from the fmt-made
// key it replaced (one entry of each optional part).
func TestCacheKeyIsPinned(t *testing.T) {
	es := []Entry{{Name: "a", Mode: fs.ModeDir | 0o755},
		{Name: "a/b", Mode: 0o644, Size: 12, Link: "x", HardLink: true, rdev: 5, xattrs: map[string]string{"user.a": "b"}, uid: 3, gid: 4}}
	sums := [][]byte{nil, []byte("0123456789abcdef0123456789abcdef")}
	for _, c := range []struct {
		o    Options
		want string
	}{
		{Options{KeepOwners: true, Time: time.Unix(5, 0)}, "77644df569d9a04e8fd49edfac936a64d775050b891d148e1d6f06c57c41c538"},
		{Options{UID: 7}, "015aaf6040f1105423e43d403afde1da4668eeb7c13d289cd2bf7ca76fe491c3"},
	} {
		if got := cacheKey(es, sums, c.o, "gzip", "x"); got != c.want {
			t.Errorf("cache key with %+v: %s, want %s", c.o, got, c.want)
		}
	}
	// Entries beyond one range of the key: the same key on one core as on
	// several.
	var many []Entry
	var manySums [][]byte
	for i := range 2*keyRange + 3 {
		many = append(many, Entry{Name: fmt.Sprintf("f%05d", i), Mode: 0o644, Size: int64(i)})
		manySums = append(manySums, []byte(fmt.Sprintf("sum%d", i)))
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, procs := range []int{1, 2, 4} {
		runtime.GOMAXPROCS(procs)
		if got, want := cacheKey(many, manySums, Options{}, "gzip", "x"), "85437db27f8cc79361e4f0aa8b0f9a9407845a5ebe37582e66c24a6d8a98f898"; got != want {
			t.Errorf("cache key of %d entries on %d cores: %s, want %s", len(many), procs, got, want)
		}
	}
}

// A build of files unchanged since the last one is known from their stat
// alone: the per-file hash cache is not needed (it is not even read), and
// a file whose content changed is not taken for unchanged even with its
// size and mtime put back (its ctime moved).
func TestUnchangedFilesNeedNoHashCache(t *testing.T) {
	// The files are written just before: settled at once here, as they
	// would be two seconds later (TestRacyFilesLeaveNoStatKey).
	defer func(w time.Duration) { racyWindow = w }(racyWindow)
	racyWindow = 0
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	src := tree(t, time.Unix(1700000000, 0))
	build := func() Built { return buildApp(t, st, src) }
	first := build()
	damageHashCache(t, st)
	if again := build(); !again.Cached || again.Descriptor.Digest != first.Descriptor.Digest {
		t.Fatalf("unchanged rebuild without the hash cache: %+v, want cached %s", again, first.Descriptor.Digest)
	}
	if _, err := os.Stat(st.CacheDir(store.CacheFileHashes)); err != nil {
		t.Fatal(err)
	}
	if raw, _ := os.ReadFile(st.CacheDir(store.CacheFileHashes)); string(raw) != "damaged" {
		t.Errorf("an unchanged build rewrote the hash cache")
	}
	// Same size, mtime put back: only ctime tells.
	a := filepath.Join(src, "data", "a.txt")
	if err := os.WriteFile(a, []byte("DATA"), 0o640); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(a, time.Unix(1700000000, 0), time.Unix(1700000000, 0))
	damageHashCache(t, st)
	if changed := build(); changed.Cached || changed.Descriptor.Digest == first.Descriptor.Digest {
		t.Fatalf("content changed under the same size and mtime: %+v", changed)
	}
}

// TestEntryStaysSmall: a tree has an Entry per file and every build lists
// it (an unchanged build does little else), so the struct holds no
// padding: each byte of it is a byte per file of fresh memory.
func TestEntryStaysSmall(t *testing.T) {
	typ := reflect.TypeFor[Entry]()
	var fields uintptr
	for i := range typ.NumField() {
		fields += typ.Field(i).Type.Size()
	}
	if typ.Size() != fields {
		t.Errorf("Entry is %d bytes for %d bytes of fields: order its fields largest first", typ.Size(), fields)
	}
}

// A later add replaces what an earlier one put at the same path, where it
// stands, whether each is a folder or a file: the layer holds each name
// once, with the last add's content.
func TestALaterAddReplacesAnEarlierOne(t *testing.T) {
	write := func(p, content string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	one, two, three := t.TempDir(), t.TempDir(), t.TempDir()
	write(filepath.Join(one, "a.txt"), "one")
	write(filepath.Join(one, "sub", "b.txt"), "one")
	write(filepath.Join(one, "sub", "keep.txt"), "one")
	write(filepath.Join(two, "a.txt"), "two!")
	write(filepath.Join(two, "c.txt"), "two")
	write(filepath.Join(three, "b.txt"), "three")
	adds := []Add{
		{Src: one, Dest: "/app/"},
		{Src: two, Dest: "/app/"},                                    // a folder over a folder
		{Src: filepath.Join(three, "b.txt"), Dest: "/app/sub/b.txt"}, // a file over a walked file
		{Src: filepath.Join(one, "sub"), Dest: "/app/sub/"},          // a folder over that file
		{Src: filepath.Join(two, "c.txt"), Dest: "/app/a.txt"},       // a file over a file
	}
	_, raw := entriesOf(t, adds, Options{})
	seen := map[string]int{}
	content := map[string]string{}
	treetest.EachInTar(t, bytes.NewReader(raw), func(h *tar.Header, b []byte) {
		seen[h.Name]++
		content[h.Name] = string(b)
	})
	for name, n := range seen {
		if n != 1 {
			t.Errorf("%s is in the layer %d times", name, n)
		}
	}
	for name, want := range map[string]string{"app/a.txt": "two", "app/c.txt": "two", "app/sub/b.txt": "one", "app/sub/keep.txt": "one"} {
		if got, ok := content[name]; !ok || got != want {
			t.Errorf("%s holds %q (there: %v), want %q", name, got, ok, want)
		}
	}
}
