package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Stages that do not depend on each other build at the same time, as
// BuildKit schedules them: each of two stages waits (through a shared cache
// mount) for the other to have started, which a build one stage after the
// other can never satisfy.
func TestIndependentStagesBuildAtOnce(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	id := "gantry-e2e-stages-" + filepath.Base(dir) // both stages, this run only
	wait := func(me, other string) string {
		return `RUN --mount=type=cache,target=/sync,id=` + id + `,sharing=shared sh -c 'touch /sync/` + me + `; i=0; while [ ! -e /sync/` + other + ` ]; do i=$((i+1)); [ $i -gt 300 ] && exit 9; sleep 0.1; done; echo ` + me + ` > /` + me + `'`
	}
	df := "ARG BASE\nFROM $BASE AS a\n" + wait("a", "b") + "\nFROM $BASE AS b\n" + wait("b", "a") +
		"\nFROM $BASE\nCOPY --from=a /a /a\nCOPY --from=b /b /b\n"
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644)
	e.gantry("build", dir, "--build-arg", "BASE="+baseRef("amd64"), "-t", "example.com/stages:1")
	root := filepath.Join(t.TempDir(), "root")
	e.gantry("export", "example.com/stages:1", "--dir", root)
	for _, f := range []string{"a", "b"} {
		if b, _ := os.ReadFile(filepath.Join(root, f)); string(b) != f+"\n" {
			t.Errorf("/%s = %q", f, b)
		}
	}
}

// The same step in two stages of one build (same parent, instruction and
// inputs) runs once, as BuildKit merges identical vertices, also with
// --no-cache: a cache mount counts the runs.
func TestIdenticalStepsOfStagesRunOnce(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	id := "gantry-e2e-once-" + filepath.Base(dir)
	step := "RUN --mount=type=cache,target=/c,id=" + id + ",sharing=locked sh -c 'echo ran >> /c/count; sleep 1'"
	df := "ARG BASE\nFROM $BASE AS a\n" + step + "\nRUN echo a > /who\n" +
		"FROM $BASE AS b\n" + step + "\nRUN echo b > /who\n" +
		"FROM $BASE\nCOPY --from=a /who /a\nCOPY --from=b /who /b\n" +
		"RUN --mount=type=cache,target=/c,id=" + id + " cat /c/count > /count\n"
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644)
	e.gantry("build", "--no-cache", dir, "--build-arg", "BASE="+baseRef("amd64"), "-t", "example.com/once:1")
	root := filepath.Join(t.TempDir(), "root")
	e.gantry("export", "example.com/once:1", "--dir", root)
	if b, _ := os.ReadFile(filepath.Join(root, "count")); string(b) != "ran\n" {
		t.Errorf("the step shared by two stages ran %d times (%q), want once", strings.Count(string(b), "ran"), b)
	}
	for _, f := range []string{"a", "b"} {
		if b, _ := os.ReadFile(filepath.Join(root, f)); string(b) != f+"\n" {
			t.Errorf("/%s = %q", f, b)
		}
	}
}
