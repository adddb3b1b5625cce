package e2e

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

func sortedLines(s string) []string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	sort.Strings(lines)
	return lines
}

// gantry diff of a base and the image docker commit made from a container
// lists what docker diff listed for the container.
func TestDiffMatchesDockerDiff(t *testing.T) {
	name := "gantry-e2e-diff"
	shErr("docker", "rm", "-f", name)
	sh(t, "docker", "run", "--name", name, "--network", "none", baseRef("amd64"), "/bin/sh", "-c",
		"mkdir -p /opt/new && echo hi > /opt/new/file && rm /bin/cat && echo changed > /bin/echo2 && mkdir /tmp/x")
	t.Cleanup(func() { shErr("docker", "rm", "-f", name) })
	want := sortedLines(sh(t, "docker", "diff", name))
	if !strings.Contains(strings.Join(want, "\n"), "D /bin/cat") || !strings.Contains(strings.Join(want, "\n"), "A /opt/new/file") {
		t.Fatalf("docker diff does not show the container's changes:\n%s", strings.Join(want, "\n"))
	}
	ref := uniqueRepo("committed") + ":1"
	sh(t, "docker", "commit", name, ref)
	sh(t, "docker", "push", ref)
	t.Cleanup(func() { shErr("docker", "rmi", "-f", ref) })

	e := newEnv(t)
	got := sortedLines(e.gantry("diff", baseRef("amd64"), ref))
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("gantry diff:\n%s\ndocker diff:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	top := sortedLines(e.gantry("diff", ref))
	if strings.Join(top, "\n") != strings.Join(want, "\n") {
		t.Errorf("gantry diff of the top layer:\n%s", strings.Join(top, "\n"))
	}
	if js := e.gantry("diff", "--format", "json", ref); !strings.Contains(js, `"kind": "D"`) || !strings.Contains(js, `"/bin/cat"`) {
		t.Errorf("diff --format json:\n%s", js)
	}
}

// A root filesystem exported by Docker is imported by gantry (file, stdin,
// directory) and runs.
func TestImportRootfs(t *testing.T) {
	container := strings.TrimSpace(sh(t, "docker", "create", baseRef("amd64")))
	t.Cleanup(func() { shErr("docker", "rm", "-f", container) })
	dir := t.TempDir()
	rootfsTar := filepath.Join(dir, "rootfs.tar")
	sh(t, "docker", "export", "-o", rootfsTar, container)

	e := newEnv(t)
	dest := uniqueRepo("imported") + ":1"
	e.gantry("import", rootfsTar, "--change", `CMD ["/bin/echo", "imported"]`, "--change", "ENV FROM=import", "-t", dest, "--push")
	sh(t, "docker", "pull", dest)
	t.Cleanup(func() { shErr("docker", "rmi", "-f", dest) })
	if got := sh(t, "docker", "run", "--rm", "--network", "none", dest); got != "imported\n" {
		t.Errorf("imported image printed %q", got)
	}
	if got := sh(t, "docker", "run", "--rm", "--network", "none", dest, "/bin/sh", "-c", "echo $FROM"); got != "import\n" {
		t.Errorf("--change ENV: %q", got)
	}

	data, _ := os.ReadFile(rootfsTar)
	out, stderr, err := e.run(data, "import", "-", "-t", "example.com/stdin:1")
	if err != nil {
		t.Fatalf("import from stdin: %v\n%s%s", err, out, stderr)
	}
	unpacked := filepath.Join(dir, "unpacked")
	e.gantry("export", "example.com/stdin:1", "--dir", unpacked)
	e.gantry("import", unpacked, "--platform", "linux/arm64", "-t", "example.com/dir:1")
	if got := field(e.gantry("inspect", "example.com/dir:1"), "Platform"); got != "linux/arm64" { // containerd's normal form, as BuildKit labels arm64
		t.Errorf("import --platform linux/arm64: %q", got)
	}

	bad := filepath.Join(dir, "bad.tar")
	os.WriteFile(bad, []byte("this is not a tar archive, not at all, no headers here"), 0o644)
	if msg := e.gantryFails("import", bad, "-t", "example.com/bad:1"); !strings.Contains(msg, "not a valid tar") {
		t.Errorf("import of garbage: %s", msg)
	}
}
