package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// A RUN whose command exits with 124 fails with exit code 124, runs once,
// and is not taken for a sandbox without overlayfs.
func TestSandboxExitCodeIsTheCommands(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM "+baseRef("amd64")+"\nRUN echo step-ran; exit 124\n"), 0o644)
	_, stderr, err := e.run(nil, "--progress", "plain", "build", dir, "-t", "example.com/exit124:1")
	if err == nil {
		t.Fatal("a RUN that exits 124 succeeded")
	}
	if !strings.Contains(stderr, "exit code 124") || strings.Contains(stderr, "overlayfs") {
		t.Errorf("want exit code 124 and no overlayfs fallback:\n%s", stderr)
	}
	if n := len(regexp.MustCompile(`(?m)^#\d+ step-ran$`).FindAllString(stderr, -1)); n != 1 {
		t.Errorf("the step ran %d times, want once:\n%s", n, stderr)
	}
}

type devNode struct {
	mode     uint32
	uid, gid uint32
}

func statDevs(t *testing.T) map[string]devNode {
	t.Helper()
	out := map[string]devNode{}
	for _, p := range []string{"/dev/null", "/dev/full", "/dev/zero", "/dev/tty"} {
		var st unix.Stat_t
		if err := unix.Stat(p, &st); err != nil {
			t.Fatal(err)
		}
		out[p] = devNode{st.Mode, st.Uid, st.Gid}
	}
	return out
}

// A RUN step owns its /dev: chmod and chown there leave the host's nodes
// as they were; /dev/stderr is the step's stderr, not a file of the layer.
func TestSandboxDevIsItsOwn(t *testing.T) {
	before := statDevs(t)
	t.Cleanup(func() { // a failure must not leave the machine's /dev/null broken
		for p, st := range before {
			os.Chmod(p, os.FileMode(st.mode&0o7777))
			os.Lchown(p, int(st.uid), int(st.gid))
		}
	})
	e := newEnv(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM "+baseRef("amd64")+"\n"+
		"RUN /bin/busybox chmod 600 /dev/full; /bin/busybox chown 1000 /dev/full; /bin/busybox chmod 600 /dev/null; /bin/busybox chown 1000 /dev/tty; echo on-stderr-"+"marker > /dev/stderr; echo x > /dev/null\n"), 0o644)
	_, stderr, err := e.run(nil, "--progress", "plain", "build", dir, "-t", "example.com/dev:1")
	if err != nil {
		t.Fatalf("build: %v\n%s", err, stderr)
	}
	after := statDevs(t)
	for p, st := range before {
		if after[p] != st {
			t.Errorf("the step changed the host's %s: %+v, was %+v", p, after[p], st)
		}
	}
	if !strings.Contains(stderr, "on-stderr-marker") {
		t.Errorf("echo > /dev/stderr did not reach the output:\n%s", stderr)
	}
	root := filepath.Join(t.TempDir(), "root")
	e.gantry("export", "example.com/dev:1", "--dir", root)
	if entries, err := os.ReadDir(filepath.Join(root, "dev")); err == nil {
		t.Errorf("/dev reached the image: %v", entries)
	}
}

// Descriptors gantry is started with (here 3, 4 and 5: a host folder) do
// not reach a RUN step (CVE-2024-21626).
func TestSandboxNoInheritedDescriptors(t *testing.T) {
	e := newEnv(t)
	host := t.TempDir()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM "+baseRef("amd64")+"\nRUN ls -l /proc/self/fd/ > /fds\n"), 0o644)
	f, err := os.Open(host)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := e.command("build", dir, "-t", "example.com/fds:1")
	cmd.ExtraFiles = []*os.File{f, f, f}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	root := filepath.Join(t.TempDir(), "root")
	e.gantry("export", "example.com/fds:1", "--dir", root)
	b, err := os.ReadFile(filepath.Join(root, "fds"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		name, target, ok := strings.Cut(l, " -> ")
		if !ok || strings.HasPrefix(target, "/proc/") { // ls's own
			continue
		}
		if f := strings.Fields(name); f[len(f)-1] != "0" && f[len(f)-1] != "1" && f[len(f)-1] != "2" {
			t.Errorf("descriptor %s reached the step: %s", f[len(f)-1], target)
		}
	}
}

// command is gantry as e runs it, for a test that needs the *exec.Cmd.
func (e *env) command(args ...string) *exec.Cmd {
	cmd := exec.Command(gantryBin, args...)
	cmd.Env = e.environ()
	return cmd
}

// A hostile step swaps the folders that hold its mountpoints for links to
// a host folder: gantry's removal of the mountpoints it made must not
// follow them (BuildKit's CVE-2024-23652); the host folder stays whole.
func TestSandboxCleanupStaysInside(t *testing.T) {
	e := newEnv(t)
	canary := t.TempDir()
	for _, d := range []string{"x", "cache/y"} {
		os.MkdirAll(filepath.Join(canary, d), 0o755)
	}
	for _, f := range []string{"hosts", "resolv.conf"} {
		os.WriteFile(filepath.Join(canary, f), nil, 0o644)
	}
	walk := func() string {
		var out []string
		filepath.Walk(canary, func(p string, _ os.FileInfo, _ error) error { out = append(out, p); return nil })
		return strings.Join(out, "\n")
	}
	before := walk()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM "+baseRef("amd64")+"\n"+
		"RUN --mount=type=tmpfs,target=/run/x --mount=type=cache,target=/var/cache/y set -e; "+
		"for d in run var etc; do /bin/busybox mv /$d /$d.moved; /bin/busybox ln -s "+canary+" /$d; done; echo swapped\n"), 0o644)
	_, stderr, err := e.run(nil, "--progress", "plain", "build", dir, "-t", "example.com/swap:1")
	if err != nil || !strings.Contains(stderr, "swapped") {
		t.Fatalf("the hostile step did not run through: %v\n%s", err, stderr)
	}
	if after := walk(); after != before {
		t.Errorf("gantry's cleanup changed the host folder the step linked to:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// The seccomp filter refuses busybox's unshare of a user namespace, as
// Docker's default profile does; an ordinary step still works.
func TestSandboxSeccompRefusesUserNamespaces(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM "+baseRef("amd64")+"\n"+
		"RUN for f in -U -r; do /bin/busybox unshare $f true 2>&1 && echo unshared$f || echo refused$f; done > /out; /bin/busybox mkdir -p /a/b && echo ok > /a/b/c && /bin/busybox tar -cf /t.tar /a\n"), 0o644)
	if _, stderr, err := e.run(nil, "build", dir, "-t", "example.com/seccomp:1"); err != nil {
		t.Fatalf("build: %v\n%s", err, stderr)
	}
	root := filepath.Join(t.TempDir(), "root")
	e.gantry("export", "example.com/seccomp:1", "--dir", root)
	b, _ := os.ReadFile(filepath.Join(root, "out"))
	if s := string(b); !strings.Contains(s, "refused-U") || !strings.Contains(s, "refused-r") || !strings.Contains(s, "Operation not permitted") {
		t.Errorf("unshare in RUN:\n%s", s)
	}
	if _, err := os.Stat(filepath.Join(root, "t.tar")); err != nil {
		t.Errorf("an ordinary step failed: %v", err)
	}
}
