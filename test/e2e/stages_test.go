package e2e

import (
	"os"
	"path/filepath"
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
