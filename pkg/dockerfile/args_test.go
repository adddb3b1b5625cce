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

// A global ARG's default expands as BuildKit's buildMetaArgs does it: an
// expansion error (${FOO:?msg}) fails the build, unless FOO is given with
// --build-arg, when the default is not read at all.
func TestGlobalArgExpansionError(t *testing.T) {
	dir := t.TempDir()
	df := "ARG FOO=${FOO:?\"custom error\"}\nFROM scratch\n"
	if _, err := dfBuildTree(t, dir, df, DockerfileOptions{}); err == nil || !strings.Contains(err.Error(), "FOO: custom error") {
		t.Errorf("global ARG ${FOO:?custom error}: %v, want the error", err)
	}
	if _, err := dfBuildTree(t, dir, df, DockerfileOptions{BuildArgs: map[string]string{"FOO": "bar"}}); err != nil {
		t.Errorf("with --build-arg FOO=bar: %v", err)
	}
}

// TARGETSTAGE is predefined as BuildKit's defaultArgs has it: the --target
// given, else the last stage's name, else "default"; a stage sees it once
// it declares ARG TARGETSTAGE, and --build-arg overrides it.
func TestTargetStageArg(t *testing.T) {
	dir := t.TempDir()
	mkTree(t, dir, map[string]string{"f": "f"}, nil)
	body := "FROM scratch AS base\nCOPY f /before-$TARGETSTAGE\nARG TARGETSTAGE\nCOPY f /value-$TARGETSTAGE\n"
	for _, c := range []struct {
		df, target string
		args       map[string]string
		want       string
	}{
		{body + "FROM base AS foo\nFROM base\n", "foo", nil, "value-foo"},
		{body + "FROM base AS foo\nFROM base\n", "", nil, "value-default"},
		{body + "FROM base AS foo\nFROM base AS final\n", "", nil, "value-final"},
		{body + "FROM base\n", "", map[string]string{"TARGETSTAGE": "given"}, "value-given"},
	} {
		tree, err := dfBuildTree(t, dir, c.df, DockerfileOptions{Target: c.target, BuildArgs: c.args})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := tree[c.want]; !ok {
			t.Errorf("target %q args %v: files %v, want %s", c.target, c.args, tree, c.want)
		}
		if _, ok := tree["before-"]; !ok {
			t.Errorf("target %q: TARGETSTAGE is set before ARG declares it: %v", c.target, tree)
		}
	}
}
