package e2e

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

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
