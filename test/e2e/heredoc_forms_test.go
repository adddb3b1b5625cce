package e2e

import (
	"os"
	"path/filepath"
	"testing"
)

// The heredoc forms BuildKit's dispatchRun knows, each checked for what
// BuildKit v0.34.2 writes from testdata/heredoc-forms (compared by hand
// with buildctl): a lone heredoc is a script, a shebang one runs as
// /dev/pipes/NAME, a command reads its heredocs as stdin (the last of
// several), COPY bodies expand unless the delimiter is quoted.
func TestHeredocsBuildKitForms(t *testing.T) {
	e := newEnv(t)
	e.gantry("build", "testdata/heredoc-forms", "--build-arg", "BASE="+baseRef("amd64"), "-t", "example.com/heredoc-forms:1")
	root := filepath.Join(t.TempDir(), "root")
	e.gantry("export", "example.com/heredoc-forms:1", "--dir", root)
	for file, want := range map[string]string{
		"script":        "script hello\n",
		"shebang":       "shebang /dev/pipes/EOT\n",
		"stdin":         "stdin world\n",
		"interp":        "interpreter reads stdin\n",
		"two":           "second\n",
		"tabs":          "tabs stripped\n",
		"copy-expanded": "hello world \"q\" 'x'\n",
		"copy-quoted":   "$GREETING\n",
		"copy-tabs":     "tab world\n",
	} {
		if b, _ := os.ReadFile(filepath.Join(root, "out", file)); string(b) != want {
			t.Errorf("/out/%s = %q, want %q", file, b, want)
		}
	}
	if _, err := os.Lstat(filepath.Join(root, "dev", "pipes")); err == nil {
		t.Error("/dev/pipes, a mount target, reached the image")
	}
	// The base has no /dev, /proc, /sys: BuildKit's RUN leaves the mount
	// points runc made for them, empty 0755 directories; the files it
	// binds (/etc/hosts, /etc/resolv.conf) it removes.
	for _, dir := range []string{"dev", "proc", "sys"} {
		fi, err := os.Lstat(filepath.Join(root, dir))
		if err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o755 {
			t.Errorf("/%s after RUN: %v %v, want an empty 0755 directory as BuildKit leaves it", dir, fi, err)
			continue
		}
		if names, _ := os.ReadDir(filepath.Join(root, dir)); len(names) != 0 {
			t.Errorf("/%s holds %d entries, want none", dir, len(names))
		}
	}
	for _, f := range []string{"etc/hosts", "etc/resolv.conf"} {
		if _, err := os.Lstat(filepath.Join(root, f)); err == nil {
			t.Errorf("/%s, a mount target, reached the image", f)
		}
	}
}
