package dockerfile

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gantry-build/gantry/internal/testenv"
)

// A Dockerfile named Dockerfile (the default, or given so) that is missing
// falls back to "dockerfile" beside it, as BuildKit's dockerui does
// (moby/moby#10858); another name does not.
func TestLowercaseDockerfileFallback(t *testing.T) {
	dir := t.TempDir()
	mkTree(t, dir, map[string]string{"f": "f"}, nil)
	if err := os.WriteFile(filepath.Join(dir, "dockerfile"), []byte("FROM scratch\nCOPY f /lower\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	st, rc := testenv.Store(t), testenv.Client(t)
	for _, df := range []string{"", filepath.Join(dir, "Dockerfile")} {
		if _, err := FromDockerfile(context.Background(), st, rc, DockerfileOptions{Context: dir, Dockerfile: df}); err != nil {
			t.Errorf("-f %q with only a lower-case dockerfile: %v", df, err)
		}
	}
	_, err := FromDockerfile(context.Background(), st, rc, DockerfileOptions{Context: dir, Dockerfile: filepath.Join(dir, "Other")})
	if err == nil || !strings.Contains(err.Error(), "no Dockerfile at") {
		t.Errorf("-f Other: %v, want no Dockerfile", err)
	}
}
