package dockerfile

import (
	"strings"
	"testing"
)

// Stages depend on each other as BuildKit resolves them: COPY --from
// cannot name a stage defined later; a cycle is BuildKit's error, not a stack
// overflow; of two stages of one name the later wins for COPY --from and
// --target, while FROM sees only the stages above it; --from takes no
// variables.
func TestStageDependencies(t *testing.T) {
	dir := t.TempDir()
	mkTree(t, dir, map[string]string{"one": "1", "two": "2", "three": "3"}, nil)
	_, err := dfBuildTree(t, dir, "FROM scratch AS final\nCOPY --from=later /one /got\nFROM scratch AS later\nCOPY one /one\n", DockerfileOptions{Target: "final"})
	if err == nil || !strings.Contains(err.Error(), `cannot copy from stage "later", it needs to be defined before current stage "final"`) {
		t.Errorf("COPY --from a later stage: %v", err)
	}
	_, err = dfBuildTree(t, dir, "FROM scratch AS final\nRUN --mount=from=later,target=/m true\nFROM scratch AS later\nCOPY one /one\n", DockerfileOptions{Target: "final"})
	if err == nil || !strings.Contains(err.Error(), `cannot mount from stage "later" to "/m", stage needs to be defined before current command`) {
		t.Errorf("RUN --mount from a later stage: %v", err)
	}
	for name, df := range map[string]string{
		"a":     "FROM scratch AS a\nCOPY --from=b /x /x\nFROM scratch AS b\nCOPY --from=a /y /y\n",
		"self":  "FROM scratch AS self\nCOPY --from=self /x /x\n",
		"first": "FROM scratch AS first\nCOPY --from=second /x /x\nFROM scratch AS second\nCOPY --from=1 /x /x\n",
	} {
		_, err := dfBuildTree(t, dir, df, DockerfileOptions{})
		if err == nil || !strings.Contains(err.Error(), "circular dependency detected on stage: "+name) {
			t.Errorf("cycle through %s: %v", name, err)
		}
	}
	// The later "dup" wins for --target and COPY --from.
	tree, err := dfBuildTree(t, dir, "FROM scratch AS dup\nCOPY two /f\nFROM scratch AS dup\nCOPY three /f\nFROM scratch\nCOPY --from=dup /f /f\n", DockerfileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if tree["f"].body != "3" {
		t.Errorf("COPY --from a duplicated name: %q, want the later stage's", tree["f"].body)
	}
	for df, msg := range map[string]string{
		"ARG X=a\nFROM scratch AS a\nFROM scratch\nCOPY --from=$X /f /f\n": "variable expansion is not supported for --from",
		"FROM scratch AS Bad!\n":              "invalid name for build stage",
		"FROM scratch\nCOPY --from=7 /f /f\n": "invalid stage index 7",
	} {
		if _, err := dfBuildTree(t, dir, df, DockerfileOptions{}); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%q: %v, want %q", df, err, msg)
		}
	}
}
