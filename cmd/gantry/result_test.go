package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// With -q or --progress quiet, a verb that makes an image prints its ID
// alone, as docker import and docker build -q do; without, where it went.
func TestQuietPrintsTheImageID(t *testing.T) {
	root := t.TempDir()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "hello"), []byte("hi\n"), 0o644)
	id := regexp.MustCompile(`^sha256:[0-9a-f]{64}\n$`)
	for _, quiet := range [][]string{{"-q"}, {"--progress", "quiet"}} {
		args := append(append([]string{"--root", root}, quiet...), "import", dir, "-t", "example.com/imported:1")
		out, err := execute(t, args...)
		if err != nil || !id.MatchString(out) {
			t.Errorf("%v: %q %v", quiet, out, err)
		}
		inspected, _ := gantryIn(t, root, "inspect", "--format", "{{.Id}}", "example.com/imported:1")
		if inspected != out {
			t.Errorf("printed %q, the image's ID is %q", out, inspected)
		}
	}
	out, err := execute(t, "--root", root, "--progress", "plain", "import", dir, "-t", "example.com/imported:2")
	if err != nil || !strings.HasPrefix(out, "stored example.com/imported:2 sha256:") {
		t.Errorf("without -q: %q %v", out, err)
	}
}
