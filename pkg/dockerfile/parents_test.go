package dockerfile

import (
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// COPY --parents as BuildKit reads it (dispatchCopy, fsutil's include
// patterns): the part before the first "/./" is a base that may hold
// wildcards, the part after a pattern that may hold them too, ** for any
// depth; what matches keeps its path below the base, from every base
// matched. A pattern that matches nothing in a base that exists still
// makes the destination; a base wildcard that matches nothing makes
// nothing; a plain path that is missing is an error.
func TestCopyParentsWildcards(t *testing.T) {
	dir := t.TempDir()
	mkTree(t, dir, map[string]string{
		"test/a/b/c/d/foo": "foo", "test/a/b/c/d/e/bay": "bay", "test/a/b2/c/d/e/bar": "bar",
		"test/a/b/c2/d/e/baz": "baz", "test/a/b/c2/d/e2/baz": "baz2",
	}, nil)
	for _, c := range []struct{ src, files string }{
		{"/test/a/b*/./c/**/e", "out out/c out/c/d out/c/d/e out/c/d/e/bar out/c/d/e/bay"},
		{"/test/a/b/c*/./d/**/baz /test/a/b*/./c/**/bar", "out out/c out/c/d out/c/d/e out/c/d/e/bar out/d out/d/e out/d/e/baz out/d/e2 out/d/e2/baz"},
		{"/test/a/b3*/c", "out"},
		{"/test/a/b/./zz*", "out"},
		{"/test/zz*/./c", ""},
		{"/test/a/./b/./c", "out out/b out/b/c out/b/c/d out/b/c/d/e out/b/c/d/e/bay out/b/c/d/foo"},
		{"/test/a/./*/c/d/e", "out out/b out/b/c out/b/c/d out/b/c/d/e out/b/c/d/e/bay out/b2 out/b2/c out/b2/c/d out/b2/c/d/e out/b2/c/d/e/bar"},
		{"test/a/b2/c/d/e/bar", "out out/test out/test/a out/test/a/b2 out/test/a/b2/c out/test/a/b2/c/d out/test/a/b2/c/d/e out/test/a/b2/c/d/e/bar"},
	} {
		tree, err := dfBuildTree(t, dir, "FROM scratch\nCOPY --parents "+c.src+" /out/\n", DockerfileOptions{})
		if err != nil {
			t.Errorf("%s: %v", c.src, err)
			continue
		}
		var got []string
		for n := range tree {
			got = append(got, n)
		}
		sort.Strings(got)
		if c.files != "" {
			want(t, tree, "out", "d 755 0:0")
		}
		if strings.Join(got, " ") != c.files {
			t.Errorf("COPY --parents %s:\n got  %s\n want %s", c.src, strings.Join(got, " "), c.files)
		}
	}
	if _, err := dfBuildTree(t, dir, "FROM scratch\nCOPY --parents /test/nonexistent /out/\n", DockerfileOptions{}); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("COPY --parents of a missing path: %v, want not found", err)
	}
}

// What a COPY --parents pattern matches is copied as it is in the context:
// a link stays a link, as in BuildKit, never followed out of the context
// (a hostile context's link to a host folder or file would otherwise bring
// the host's files into the image).
func TestCopyParentsKeepsLinksAsLinks(t *testing.T) {
	host := t.TempDir()
	mkTree(t, host, map[string]string{"secret/key": "host secret", "token": "host token"}, nil)
	dir := t.TempDir()
	mkTree(t, dir, map[string]string{
		"a/dlink": "-> " + filepath.Join(host, "secret"), "a/flink": "-> " + filepath.Join(host, "token"),
	}, nil)
	tree, err := dfBuildTree(t, dir, "FROM scratch\nCOPY --parents ./a/./dlink /out/\nCOPY --parents ./a/./flink /out2/\n", DockerfileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want(t, tree, "out/dlink", "l 777 0:0")
	want(t, tree, "out2/flink", "l 777 0:0")
	if n := tree["out/dlink"]; n.link != filepath.Join(host, "secret") {
		t.Errorf("out/dlink points to %q", n.link)
	}
	for name, n := range tree {
		if strings.HasPrefix(name, "out/dlink/") || strings.Contains(n.body, "host") {
			t.Errorf("%s: the host's files came into the image through a link of the context", name)
		}
	}
}
