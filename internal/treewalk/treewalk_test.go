package treewalk

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"sort"
	"strings"
	"testing"
)

// tree makes a folder with nested folders, files, a link to a folder (not
// followed) and a hard link.
func tree(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{"a/b/c", "a/d", "e", "skip/inner"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// "a-b", "a.c" and "a/b-z" sort between a folder and what it holds
	// ('-' and '.' come before '/').
	for i, f := range []string{"a/b/c/f1", "a/d/f2", "e/f3", "top", "skip/inner/f4", "a-b", "a.c", "a/b-z", "a/b/c.d", "a/b/c-"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(strings.Repeat("x", i)), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("a", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" {
		if err := os.Link(filepath.Join(dir, "top"), filepath.Join(dir, "e", "hard")); err != nil {
			t.Fatal(err)
		}
		os.Chmod(filepath.Join(dir, "e", "f3"), 0o4755|fs.ModeSetuid)
	}
	return dir
}

// Walk lists what filepath.WalkDir and os.Lstat see, sorted by name, and
// leaves out what is below a folder descend refuses.
func TestWalkIsWalkDirWithLstat(t *testing.T) {
	dir := tree(t)
	got, err := Walk(dir, func(rel string) bool { return rel != "skip" })
	if err != nil {
		t.Fatal(err)
	}
	var want []Entry
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "." {
			return nil
		}
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, Entry{Rel: filepath.ToSlash(rel), Info: fi})
		if rel == "skip" {
			return filepath.SkipDir
		}
		return nil
	})
	sort.Slice(want, func(i, j int) bool { return want[i].Rel < want[j].Rel })
	if len(got) != len(want) {
		t.Fatalf("got %d entries %v, want %d %v", len(got), rels(got), len(want), rels(want))
	}
	root := dir // what Path starts with: the root as given, its target off Linux
	if runtime.GOOS != "linux" {
		root, _ = filepath.EvalSymlinks(dir)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Rel != w.Rel {
			t.Fatalf("entry %d is %s, want %s (order: %v)", i, g.Rel, w.Rel, rels(got))
		}
		if p := filepath.Join(root, filepath.FromSlash(w.Rel)); g.Path != p {
			t.Errorf("%s: path %s, want %s", g.Rel, g.Path, p)
		}
		if g.Info.Mode() != w.Info.Mode() || g.Info.Size() != w.Info.Size() || !g.Info.ModTime().Equal(w.Info.ModTime()) ||
			g.Info.Name() != w.Info.Name() || g.Info.IsDir() != w.Info.IsDir() {
			t.Errorf("%s: mode %v size %d time %v name %s, want %v %d %v %s", g.Rel, g.Info.Mode(), g.Info.Size(), g.Info.ModTime(), g.Info.Name(),
				w.Info.Mode(), w.Info.Size(), w.Info.ModTime(), w.Info.Name())
		}
		if runtime.GOOS == "linux" && !sameStat(g.Info.Sys(), w.Info.Sys()) {
			t.Errorf("%s: stat %+v, want %+v", g.Rel, g.Info.Sys(), w.Info.Sys())
		}
	}
}

// The root is followed when it is a link (the folder a user names), the
// links below it are not.
func TestWalkFollowsALinkedRoot(t *testing.T) {
	dir := tree(t)
	got, err := Walk(filepath.Join(dir, "link"), func(string) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"b", "b-z", "b/c", "b/c-", "b/c.d", "b/c/f1", "d", "d/f2"}; !reflect.DeepEqual(rels(got), want) {
		t.Errorf("got %v, want %v", rels(got), want)
	}
}

// A folder removed between being listed and being read is passed over,
// as what is below it.
func TestWalkPassesOverAFolderThatVanished(t *testing.T) {
	dir := tree(t)
	got, err := Walk(dir, func(rel string) bool {
		if rel == "a/b" {
			os.RemoveAll(filepath.Join(dir, "a", "b"))
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range got {
		if strings.HasPrefix(e.Rel, "a/b/") {
			t.Errorf("%s listed below the removed folder", e.Rel)
		}
	}
}

func TestWalkOfAMissingFolderFails(t *testing.T) {
	if _, err := Walk(filepath.Join(t.TempDir(), "nothing"), func(string) bool { return true }); !os.IsNotExist(err) {
		t.Errorf("got %v, want a does-not-exist error", err)
	}
}

func rels(es []Entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Rel
	}
	return out
}

// Map turns each entry into what conv makes of it where its folder is
// read, keeps what conv keeps, in Walk's order, appended to what dst holds.
func TestMapIsWalkConverted(t *testing.T) {
	dir := tree(t)
	all := func(string) bool { return true }
	listed, err := Walk(dir, all)
	if err != nil {
		t.Fatal(err)
	}
	type made struct {
		rel, path string
		size      int64
		mode      fs.FileMode
	}
	var want []made
	for _, e := range listed {
		if !strings.HasSuffix(e.Rel, "-") {
			want = append(want, made{e.Rel, e.Path, e.Info.Size(), e.Info.Mode()})
		}
	}
	start := []made{{rel: "already there"}}
	got, err := Map(start, dir, all, func(e Entry) (made, bool, error) {
		return made{e.Rel, e.Path, e.Info.Size(), e.Info.Mode()}, !strings.HasSuffix(e.Rel, "-"), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, append(start, want...)) {
		t.Errorf("got %v,\nwant %v", got, append(start, want...))
	}
}

// What conv fails with is what Map fails with.
func TestMapStopsAtConvsError(t *testing.T) {
	dir := tree(t)
	broken := errors.New("no f2")
	_, err := Map(nil, dir, func(string) bool { return true }, func(e Entry) (string, bool, error) {
		if e.Rel == "a/d/f2" {
			return "", false, broken
		}
		return e.Rel, true, nil
	})
	if !errors.Is(err, broken) {
		t.Errorf("got %v, want %v", err, broken)
	}
}
