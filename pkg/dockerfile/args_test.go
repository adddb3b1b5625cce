package dockerfile

import (
	"sort"
	"strings"
	"testing"
)

// A stage FROM another stage starts with that stage's variables, its ARGs
// included (BuildKit's dispatchState.init takes the base's state and build
// args); ARG names are taken as written, not expanded, and only a default
// value expands (compared with BuildKit v0.34.2 by hand).
func TestArgsOfStageBaseAndNames(t *testing.T) {
	dir := t.TempDir()
	mkTree(t, dir, map[string]string{"f": "f"}, nil)
	tree, err := dfBuildTree(t, dir, "FROM scratch AS a\nARG A=from-a\n"+
		"FROM a AS b\nCOPY f /${A}-copied\nARG X=Y\nARG $X=1\nCOPY f /y-${Y}-x\nARG Z=$A-z\nCOPY f /$Z\n", DockerfileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for n := range tree {
		got = append(got, n)
	}
	sort.Strings(got)
	if w := "from-a-copied from-a-z y--x"; strings.Join(got, " ") != w {
		t.Errorf("files %s, want %s", strings.Join(got, " "), w)
	}
}
