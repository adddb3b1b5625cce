package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A build on a base read from the registry stores and pushes without the
// base's layers; the stored image is still whole to what needs its bytes:
// save fetches them (verified) and Docker loads and runs the archive.
func TestLazyBaseIsWholeForSave(t *testing.T) {
	e := newEnv(t) // an empty store: the base is only in the registry
	dest := uniqueRepo("lazy") + ":1"
	app := appFolder(t, time.Now())
	out := e.gantry("build", "--from", baseRef("amd64"), "--add", app+":/app/", "--entrypoint", `["/app/run.sh"]`,
		"--env", "GREETING=lazy", "-t", dest, "--push")
	if !strings.Contains(out, "pushed "+dest) {
		t.Fatalf("build output:\n%s", out)
	}
	if images := e.gantry("images"); !strings.Contains(images, strings.Split(dest, ":")[0]) {
		t.Fatalf("the built image is not stored:\n%s", images)
	}
	archive := filepath.Join(t.TempDir(), "lazy.tar")
	e.gantry("save", dest, "-o", archive, "--pull", "never")
	sh(t, "docker", "load", "-i", archive)
	t.Cleanup(func() { shErr("docker", "rmi", "-f", dest) })
	if got := sh(t, "docker", "run", "--rm", "--network", "none", dest); got != "app says lazy\npayload\n" {
		t.Errorf("docker run printed %q", got)
	}
	root := filepath.Join(t.TempDir(), "root")
	e.gantry("export", dest, "--dir", root)
	if _, err := os.Stat(filepath.Join(root, "bin")); err != nil {
		t.Errorf("the base's files are missing from the export: %v", err)
	}
}
