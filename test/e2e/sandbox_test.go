//go:build linux

package e2e

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
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
	// The image has no /dev: the layer gets the empty mount point BuildKit
	// leaves, and nothing of the sandbox's /dev.
	if entries, err := os.ReadDir(filepath.Join(root, "dev")); err != nil || len(entries) != 0 {
		t.Errorf("/dev in the image: %v %v, want an empty folder", entries, err)
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

// openPty opens a pseudo-terminal: its master and its slave side.
func openPty(t *testing.T) (*os.File, *os.File) {
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ptmx.Close() })
	if err := unix.IoctlSetPointerInt(int(ptmx.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(ptmx.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	pts, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pts.Close() })
	return ptmx, pts
}

// A hostile RUN step stays in its root filesystem: no chroot escape to the
// host's files, no mounts, no use of device nodes it makes, and the
// capability bounding set Docker gives build steps.
func TestSandboxConfinesRun(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "escape"), "./testdata/escape")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build escape: %v\n%s", err, out)
	}
	marker := filepath.Join(t.TempDir(), "host-secret")
	os.WriteFile(marker, []byte("host secret"), 0o644)
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM "+baseRef("amd64")+"\nCOPY escape /escape\nRUN [\"/escape\", \""+marker+"\"]\n"), 0o644)
	// A secret in the session keyring gantry starts with.
	key, err := unix.AddKey("user", "gantry-e2e-secret", []byte("s3cret"), unix.KEY_SPEC_SESSION_KEYRING)
	if err != nil {
		t.Fatalf("add_key: %v", err)
	}
	t.Cleanup(func() { unix.KeyctlInt(unix.KEYCTL_REVOKE, key, 0, 0, 0) })
	// gantry runs on a terminal of its own (a pty), as when a person types
	// the command.
	ptmx, pts := openPty(t)
	cmd := exec.Command(gantryBin, "--progress", "plain", "build", "--no-cache", dir, "-t", "example.com/escape:1")
	cmd.Env = e.environ()
	var errBuf bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = pts, io.Discard, &errBuf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	go io.Copy(io.Discard, ptmx)
	err = cmd.Run()
	stderr := errBuf.String()
	if err != nil {
		t.Fatalf("build: %v\n%s", err, stderr)
	}
	if strings.Contains(stderr, "ESCAPED") {
		t.Errorf("the RUN step got out:\n%s", stderr)
	}
	for _, want := range []string{"chroot escape: confined", "mount: refused", "device node: made, not opened",
		"proc: read-only: /proc/sysrq-trigger", "proc: read-only: /proc/sys/kernel/domainname", "proc: masked: /proc/kcore", "terminal: none", "keyring: not reachable",
		"host file: read-only: /etc/hosts", "host file: read-only: /etc/resolv.conf",
		"user namespace: refused: fork/exec /escape: operation not permitted", "keyctl: refused: operation not permitted", "bpf: refused",
		"NoNewPrivs:\t0", "Seccomp:\t2", // a seccomp filter, and setuid programs still work
		"CapBnd:\t00000000a80425fb"} { // Docker's default set for build steps
		if !strings.Contains(stderr, want) {
			t.Errorf("output lacks %q:\n%s", want, stderr)
		}
	}
}

// An image whose paths are links out of its root (absolute symlinks to
// host folders) cannot make the sandbox create or mount anything there:
// mount targets resolve inside the image, as runc resolves them.
func TestSandboxMountTargetsStayInside(t *testing.T) {
	e := newEnv(t)
	host := t.TempDir()
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "tree", "etc"), 0o755)
	os.Symlink(host, filepath.Join(dir, "tree", "run"))
	os.Symlink(host+"/hosts", filepath.Join(dir, "tree", "etc", "hosts"))
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM "+baseRef("amd64")+"\n"+
		"COPY tree/ /\n"+
		"RUN --mount=type=tmpfs,target=/run/x true\n"), 0o644)
	if _, stderr, err := e.run(nil, "build", dir, "-t", "example.com/links-out:1"); err != nil {
		t.Fatalf("build: %v\n%s", err, stderr)
	}
	if left, _ := os.ReadDir(host); len(left) != 0 {
		t.Errorf("the sandbox made %v in the host folder the image links to", left)
	}
}
