package dockerfile

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/gantry-build/gantry/internal/testenv"
)

// --squash (docker build --squash, kaniko's --single-snapshot) puts what
// the target stage adds over its FROM image into one layer: the same files,
// the base's layers untouched, every instruction still in the history, and
// one history entry per layer; the same inputs make the same digest.
func TestSquashOneLayerOverTheBase(t *testing.T) {
	dir := t.TempDir()
	mkTree(t, dir, map[string]string{"one": "1", "two": "2", "three": "3", "sub/a": "a", "sub/b": "b"}, nil)
	df := "FROM scratch AS base\nCOPY one /one\nCOPY sub /dir/\n" +
		"FROM base\nCOPY three /three\nENV X=1\nCOPY two /one\nCOPY sub/a /dir/c\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
	build := func(squash bool) v1.Image {
		t.Helper()
		res, err := FromDockerfile(context.Background(), testenv.Store(t), testenv.Client(t), DockerfileOptions{Context: dir, Squash: squash})
		if err != nil {
			t.Fatal(err)
		}
		return res.Image
	}
	plain, squashed := build(false), build(true)

	pl, _ := plain.Layers()
	sl, err := squashed.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(pl) != 5 || len(sl) != 3 {
		t.Fatalf("layers: %d unsquashed, %d squashed; want 5 and 3 (the base's 2 + 1)", len(pl), len(sl))
	}
	for i := 0; i < 2; i++ {
		a, _ := pl[i].Digest()
		b, _ := sl[i].Digest()
		if a != b {
			t.Errorf("base layer %d changed: %s, was %s", i, b, a)
		}
	}
	if got, want := flatTree(t, squashed), flatTree(t, plain); !reflect.DeepEqual(got, want) {
		t.Errorf("squashed filesystem\n%v\nwant\n%v", got, want)
	}

	cf, err := squashed.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	nonEmpty := 0
	for _, h := range cf.History {
		if !h.EmptyLayer {
			nonEmpty++
		}
	}
	pcf, _ := plain.ConfigFile()
	if len(cf.History) != len(pcf.History) || nonEmpty != len(sl) || len(cf.RootFS.DiffIDs) != len(sl) {
		t.Errorf("history: %d entries (%d with a layer), %d diff IDs; want %d entries, one with a layer per layer (%d)",
			len(cf.History), nonEmpty, len(cf.RootFS.DiffIDs), len(pcf.History), len(sl))
	}
	if cf.Config.Env[len(cf.Config.Env)-1] != "X=1" {
		t.Errorf("config lost: env %v", cf.Config.Env)
	}

	d1, _ := squashed.Digest()
	d2, _ := build(true).Digest()
	if d1 != d2 {
		t.Errorf("the same squashed build made %s and %s", d1, d2)
	}
}

// A target stage with one layer or none over its base is left as it is.
func TestSquashNothingToMerge(t *testing.T) {
	dir := t.TempDir()
	mkTree(t, dir, map[string]string{"one": "1"}, nil)
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch AS base\nCOPY one /one\nFROM base\nCOPY one /two\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	st := testenv.Store(t)
	var digests []v1.Hash
	for _, squash := range []bool{false, true} {
		res, err := FromDockerfile(context.Background(), st, testenv.Client(t), DockerfileOptions{Context: dir, Squash: squash})
		if err != nil {
			t.Fatal(err)
		}
		d, _ := res.Image.Digest()
		digests = append(digests, d)
	}
	if digests[0] != digests[1] {
		t.Errorf("one layer over the base: squashed %s, unsquashed %s", digests[1], digests[0])
	}
}

// An inline cache names the steps' layers, which a squashed image no
// longer has: the combination is refused before anything is built.
func TestSquashRefusesAnInlineCache(t *testing.T) {
	dir := t.TempDir()
	mkTree(t, dir, map[string]string{"Dockerfile": "FROM scratch\n"}, nil)
	inline, err := ParseCacheSpec("type=inline", true)
	if err != nil {
		t.Fatal(err)
	}
	_, err = FromDockerfile(context.Background(), testenv.Store(t), testenv.Client(t), DockerfileOptions{Context: dir, Squash: true, CacheTo: inline})
	if err == nil || !strings.Contains(err.Error(), "--squash with --cache-to type=inline") {
		t.Errorf("--squash with an inline cache: %v", err)
	}
}
