//go:build linux

package sandbox

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// The test binary is its own sandbox child (Run re-executes it), and, with
// helperEnv set, a helper command the tests run inside the sandbox for the
// system calls the host's shell tools cannot make.
const helperEnv = "GANTRY_SANDBOX_TEST_HELPER"

func TestMain(m *testing.M) {
	if IsChild() {
		Init()
	}
	if h := os.Getenv(helperEnv); h != "" {
		os.Exit(helper(h, os.Args[1:]))
	}
	os.Exit(m.Run())
}

// hostTools is a root filesystem made of the host's /usr, lent read-only:
// the host's bash and coreutils, and this test binary at /helper. It needs
// root (the sandbox's /dev and mounts are the subject of these tests).
type hostTools struct {
	lower, upper string
	mounts       []Mount
}

func newHostTools(t *testing.T) *hostTools {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the sandbox tests mount file systems: run them as root (the e2e suite runs them as root)")
	}
	dir := t.TempDir()
	h := &hostTools{lower: filepath.Join(dir, "lower"), upper: filepath.Join(dir, "upper")}
	for _, d := range []string{"lower/etc", "lower/tmp", "upper"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(filepath.Join(h.lower, "tmp"), 0o1777)
	os.Chmod(h.upper, 0o755)
	for _, l := range []string{"bin", "sbin", "lib", "lib64"} {
		if err := os.Symlink("usr/"+l, filepath.Join(h.lower, l)); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(h.lower, "etc/passwd"), []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n"), 0o644)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	h.mounts = []Mount{{Type: "bind", Source: "/usr", Target: "/usr", ReadOnly: true}, {Type: "bind", Source: self, Target: "/helper", ReadOnly: true}}
	return h
}

// run runs a bash script in the sandbox; extra mounts come after the tools'.
func (h *hostTools) run(t *testing.T, script string, extra ...Mount) (stdout, stderr string, res Result, err error) {
	t.Helper()
	return h.runSpec(t, Spec{Args: []string{"/bin/bash", "-c", script}, Mounts: extra})
}

func (h *hostTools) runSpec(t *testing.T, spec Spec) (stdout, stderr string, res Result, err error) {
	t.Helper()
	spec = h.spec(spec)
	var o, e bytes.Buffer
	res, err = Run(context.Background(), spec, &o, &e)
	return o.String(), e.String(), res, err
}

// spec completes spec with the host tools' root, mounts and PATH.
func (h *hostTools) spec(spec Spec) Spec {
	spec.Lower, spec.Upper = h.lower, h.upper
	spec.Mounts = append(append([]Mount{}, h.mounts...), spec.Mounts...)
	spec.Env = append(spec.Env, "PATH=/usr/sbin:/usr/bin:/sbin:/bin", helperEnv+"=")
	if spec.Network == "" {
		spec.Network = "host"
	}
	return spec
}

// helper is the test binary run inside the sandbox as /helper.
func helper(name string, args []string) int {
	if code := seccompHelper(name); code >= 0 {
		return code
	}
	os.Stderr.WriteString("unknown helper " + name + "\n")
	return 2
}

// A command's own exit code is never mistaken for the sandbox's report
// that it could not be set up: exit 124 is the command's, once.
func TestExitCodeIsTheCommands(t *testing.T) {
	h := newHostTools(t)
	count := t.TempDir()
	_, stderr, res, err := h.run(t, "echo ran >> /count/runs; exit 124", Mount{Type: "bind", Source: count, Target: "/count"})
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 124 {
		t.Fatalf("exit 124 gave %v, want exit code 124\n%s", err, stderr)
	}
	if strings.Contains(stderr, "overlayfs") {
		t.Errorf("a command's exit code was taken for missing overlayfs:\n%s", stderr)
	}
	if !res.Overlay {
		t.Error("the run fell back to a copy of the root filesystem")
	}
	if b, _ := os.ReadFile(filepath.Join(count, "runs")); string(b) != "ran\n" {
		t.Errorf("the command ran %d times, want once", strings.Count(string(b), "ran"))
	}
}

// A sandbox that cannot be set up says why, as an error of its own: not
// as an exit code a command could have given.
func TestSetupFailureIsReported(t *testing.T) {
	h := newHostTools(t)
	_, _, _, err := h.run(t, "true", Mount{Type: "bind", Source: "/nonexistent-gantry-source", Target: "/x"})
	var ee *ExitError
	if err == nil || errors.As(err, &ee) || !strings.Contains(err.Error(), "/nonexistent-gantry-source") {
		t.Fatalf("a bind of a missing source gave %v (%T), want the sandbox's error naming it", err, err)
	}
	_, stderr, _, err := h.runSpec(t, Spec{Args: []string{"no-such-command"}})
	if !errors.As(err, &ee) || ee.Code != 127 || !strings.Contains(stderr, "no-such-command") {
		t.Errorf("a missing command gave %v, want exit code 127 and its name on stderr:\n%s", err, stderr)
	}
}

// Where overlayfs cannot be mounted (here: a lower directory whose name
// has a comma, which overlayfs's options cannot say), the run falls back
// to a copy of the root filesystem, says so, and runs the command once.
func TestNoOverlayFallsBackToACopy(t *testing.T) {
	h := newHostTools(t)
	lower := filepath.Join(filepath.Dir(h.lower), "lo,wer")
	if err := os.Rename(h.lower, lower); err != nil {
		t.Fatal(err)
	}
	h.lower = lower
	count := t.TempDir()
	_, stderr, res, err := h.run(t, "echo ran >> /count/runs; echo changed > /changed", Mount{Type: "bind", Source: count, Target: "/count"})
	if err != nil {
		t.Fatalf("run: %v\n%s", err, stderr)
	}
	if res.Overlay || !strings.Contains(stderr, "overlayfs is not available") {
		t.Errorf("overlay %v, stderr %q: want the copy fallback, announced", res.Overlay, stderr)
	}
	if b, _ := os.ReadFile(filepath.Join(count, "runs")); string(b) != "ran\n" {
		t.Errorf("the command ran %d times, want once", strings.Count(string(b), "ran"))
	}
	if b, _ := os.ReadFile(filepath.Join(h.upper, "changed")); string(b) != "changed\n" {
		t.Errorf("the copy lacks the command's change: %q", b)
	}
}

// A descriptor gantry was started with (here: a host folder, open without
// close-on-exec) does not reach the command: through it, the command could
// climb out of its root (CVE-2024-21626).
func TestNoExtraDescriptorsReachTheCommand(t *testing.T) {
	h := newHostTools(t)
	host := t.TempDir()
	fd, err := unix.Open(host, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	const leaked = 57
	if err := unix.Dup3(fd, leaked, 0); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(leaked)
	stdout, stderr, _, err := h.run(t, "ls -l /proc/self/fd/")
	if err != nil {
		t.Fatalf("run: %v\n%s", err, stderr)
	}
	for _, l := range strings.Split(stdout, "\n") {
		name, target, ok := strings.Cut(l, " -> ")
		if !ok || strings.HasPrefix(target, "/proc/") { // ls's own
			continue
		}
		f := strings.Fields(name)
		if n := f[len(f)-1]; n != "0" && n != "1" && n != "2" {
			t.Errorf("descriptor %s reached the command: %s", n, target)
		}
	}
}

// hostDevices are the host's nodes a sandbox's /dev offers too.
var hostDevices = []string{"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty"}

type nodeState struct {
	mode     os.FileMode
	uid, gid uint32
}

func hostNodes(t *testing.T) map[string]nodeState {
	t.Helper()
	out := map[string]nodeState{}
	for _, p := range hostDevices {
		var st unix.Stat_t
		if err := unix.Stat(p, &st); err != nil {
			t.Fatal(err)
		}
		out[p] = nodeState{os.FileMode(st.Mode & 0o7777), st.Uid, st.Gid}
	}
	return out
}

// The sandbox's /dev is its own: a step that changes the modes and owners
// of its device nodes changes nothing of the host's, device nodes it makes
// there cannot be opened, and /dev has what programs expect of a
// container's (/dev/fd, /dev/stderr, a pty multiplexer, /dev/shm).
func TestDevIsTheSandboxs(t *testing.T) {
	h := newHostTools(t)
	before := hostNodes(t)
	t.Cleanup(func() { // a failing run must not leave the machine without /dev/null
		for p, st := range before {
			os.Chmod(p, st.mode)
			os.Lchown(p, int(st.uid), int(st.gid))
		}
	})
	stdout, stderr, _, err := h.run(t, `
chmod 600 /dev/full; chown 1000 /dev/full; chmod 600 /dev/null; chown 1000:1000 /dev/tty
echo to-stderr > /dev/stderr
echo to-stdout > /dev/stdout
cat <(echo process-substitution)
echo x > /dev/null && echo null-writable
head -c 3 /dev/zero | wc -c
mknod /dev/made c 1 3 && { echo x > /dev/made && echo ESCAPED-opened-a-node-made-in-dev || echo made-node-refused; }
exec 7<>/dev/ptmx && echo ptmx-opened
stat -f -c 'pts=%T' /dev/pts/
stat -f -c 'shm=%T' /dev/shm/
echo s > /dev/shm/s && echo shm-writable
`)
	if err != nil {
		t.Fatalf("run: %v\n%s%s", err, stdout, stderr)
	}
	if after := hostNodes(t); !equalNodes(before, after) {
		t.Errorf("the step changed the host's device nodes:\nbefore %v\nafter  %v", before, after)
	}
	for _, want := range []string{"to-stdout", "process-substitution", "null-writable", "3\n", "made-node-refused", "ptmx-opened", "pts=devpts", "shm=tmpfs", "shm-writable"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s\nstderr:\n%s", want, stdout, stderr)
		}
	}
	if !strings.Contains(stderr, "to-stderr") {
		t.Errorf("echo > /dev/stderr did not reach stderr: %q", stderr)
	}
	if entries, err := os.ReadDir(filepath.Join(h.upper, "dev")); err == nil {
		t.Errorf("/dev reached the layer: %v", entries)
	}
}

func equalNodes(a, b map[string]nodeState) bool {
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// A device node in a folder bound into the sandbox (a cache mount, a
// build's bind, gantry run -v) cannot be opened: the binds are nodev.
func TestBindMountsAreNodev(t *testing.T) {
	h := newHostTools(t)
	for _, ro := range []bool{false, true} {
		dir := t.TempDir()
		if err := unix.Mknod(filepath.Join(dir, "node"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
			t.Fatal(err)
		}
		stdout, stderr, _, err := h.run(t, "echo x > /mnt/node && echo ESCAPED-opened", Mount{Type: "bind", Source: dir, Target: "/mnt", ReadOnly: ro})
		if err == nil || strings.Contains(stdout, "ESCAPED") || !strings.Contains(stderr, "Permission denied") {
			t.Errorf("read-only %v: a node in a bound folder: %v\n%s%s", ro, err, stdout, stderr)
		}
	}
}

// A step that swaps the folders holding its mountpoints for links to a
// host folder cannot make gantry's cleanup of the mountpoints it made
// delete anything there (BuildKit's CVE-2024-23652).
func TestCleanupFollowsNoLinks(t *testing.T) {
	h := newHostTools(t)
	canary := t.TempDir()
	for _, d := range []string{"x", "deep/y"} {
		os.MkdirAll(filepath.Join(canary, d), 0o755)
	}
	for _, f := range []string{"hosts", "resolv.conf", "z"} {
		os.WriteFile(filepath.Join(canary, f), nil, 0o644)
	}
	listing := func() []string {
		var out []string
		filepath.Walk(canary, func(p string, _ os.FileInfo, _ error) error { out = append(out, p); return nil })
		return out
	}
	before := listing()
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, []byte("f"), 0o644)
	for _, copied := range []string{"", "1"} {
		t.Setenv("GANTRY_SANDBOX_NO_OVERLAY", copied)
		os.RemoveAll(h.upper)
		os.Mkdir(h.upper, 0o755)
		script := `set -e
mv /run /run.moved; ln -s ` + canary + ` /run
mv /a /a.moved; ln -s ` + canary + `/deep /a
mv /b /b.moved; ln -s ` + canary + ` /b
if [ -n "$COPIED" ]; then mv /etc /etc.moved && ln -s ` + canary + ` /etc; fi
echo swapped`
		stdout, stderr, _, err := h.runSpec(t, Spec{Args: []string{"/bin/bash", "-c", script}, Env: []string{"COPIED=" + copied},
			Mounts: []Mount{{Type: "tmpfs", Target: "/run/x"}, {Type: "tmpfs", Target: "/a/y"}, {Type: "bind", Source: file, Target: "/b/z"}}})
		if err != nil || !strings.Contains(stdout, "swapped") {
			t.Fatalf("copy %q: the hostile step: %v\n%s%s", copied, err, stdout, stderr)
		}
		if after := listing(); strings.Join(after, "\n") != strings.Join(before, "\n") {
			t.Errorf("copy %q: the cleanup changed the host folder the step linked to:\nbefore %v\nafter  %v", copied, before, after)
		}
	}
}

// The mountpoints the sandbox makes for a step are not the step's: gone
// from the upper directory after it, the folders made for them too.
func TestMountpointsLeaveNoTrace(t *testing.T) {
	h := newHostTools(t)
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, []byte("f"), 0o644)
	_, stderr, _, err := h.run(t, "true", Mount{Type: "tmpfs", Target: "/a/b/c"}, Mount{Type: "bind", Source: file, Target: "/d/e"}, Mount{Type: "bind", Source: t.TempDir(), Target: "/tmp/f"})
	if err != nil {
		t.Fatalf("run: %v\n%s", err, stderr)
	}
	var left []string
	filepath.Walk(h.upper, func(p string, fi os.FileInfo, _ error) error {
		// Folders of the image that overlayfs copied up to hold a mountpoint.
		if rel, _ := filepath.Rel(h.upper, p); rel != "." && rel != "etc" && rel != "tmp" {
			left = append(left, rel)
		}
		return nil
	})
	if len(left) > 0 {
		t.Errorf("the sandbox's mountpoints stayed in the layer: %v", left)
	}
}

func TestParseUlimit(t *testing.T) {
	for in, want := range map[string]Ulimit{
		"nofile=1024:2048": {"nofile", 1024, 2048},
		"nproc=512":        {"nproc", 512, 512},
		"core=-1":          {"core", -1, -1},
		"stack=8192:-1":    {"stack", 8192, -1},
	} {
		if got, err := ParseUlimit(in); err != nil || got != want {
			t.Errorf("%s: %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"nofile", "files=1", "nofile=2:1", "nofile=a", "nofile=1:2:3", "nofile=-1:5"} {
		if _, err := ParseUlimit(bad); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}

// --ulimit: the command runs with the limits asked for; a limit the
// sandbox cannot set is an error that names it.
func TestUlimits(t *testing.T) {
	h := newHostTools(t)
	stdout, stderr, _, err := h.runSpec(t, Spec{Args: []string{"/bin/bash", "-c", "ulimit -Sn; ulimit -Hn; ulimit -Su"},
		Ulimits: []Ulimit{{"nofile", 100, 200}, {"nproc", 4000, 5000}}})
	if err != nil || stdout != "100\n200\n4000\n" {
		t.Errorf("limits in the sandbox: %q, %v\n%s", stdout, err, stderr)
	}
	_, _, _, err = h.runSpec(t, Spec{Args: []string{"true"}, Ulimits: []Ulimit{{"nofile", 1 << 40, 1 << 40}}})
	var ee *ExitError
	if err == nil || errors.As(err, &ee) || !strings.Contains(err.Error(), "nofile") {
		t.Errorf("an impossible limit: %v", err)
	}
}

// A RUN tmpfs mount has the size it is given (BuildKit's size=), and one at
// /dev/shm replaces the sandbox's own instead of stacking on it.
func TestTmpfsSize(t *testing.T) {
	h := newHostTools(t)
	stdout, stderr, _, err := h.run(t, "grep -o ' /dev/shm tmpfs [^ ]*' /proc/mounts; grep -o ' /t tmpfs [^ ]*' /proc/mounts",
		Mount{Type: "tmpfs", Target: "/dev/shm", Size: 128 << 20}, Mount{Type: "tmpfs", Target: "/t", Size: 1 << 20})
	if err != nil {
		t.Fatalf("run: %v\n%s%s", err, stdout, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "size=131072k") || !strings.Contains(lines[1], "size=1024k") {
		t.Errorf("mounts:\n%s\nwant one /dev/shm of 131072k and /t of 1024k", stdout)
	}
}

// Spec.Hostname is the command's hostname, gantry's by default.
func TestHostname(t *testing.T) {
	h := newHostTools(t)
	for name, want := range map[string]string{"": "gantry", "foo": "foo"} {
		stdout, stderr, _, err := h.runSpec(t, Spec{Args: []string{"/bin/cat", "/proc/sys/kernel/hostname"}, Hostname: name})
		if err != nil || strings.TrimSpace(stdout) != want {
			t.Errorf("Hostname %q: %q, %v, want %s\n%s", name, stdout, err, want, stderr)
		}
	}
}
