package dockerfile

import (
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
