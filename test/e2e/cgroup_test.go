package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

// The cgroup limits of RUN steps and gantry run (--pids-limit, --memory,
// --memory-swap, --cgroup-parent), on this machine's real cgroups (v1 in
// hybrid mode on CI, v2 on modern hosts).

var sleepSeq atomic.Int64

// uniqueSleep is a sleep duration no other test or run uses: the test
// finds the processes its command started by it, and touches no other.
func uniqueSleep() string {
	return strconv.Itoa(600000 + os.Getpid()%100000*10 + int(sleepSeq.Add(1)))
}

// sleepersOf lists the live processes whose command line ends in "sleep
// ARG" (busybox sleep ARG, or sleep ARG).
func sleepersOf(arg string) []string {
	var out []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !strings.HasSuffix(strings.TrimRight(string(b), "\x00"), "sleep\x00"+arg) {
			continue
		}
		if st, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "stat")); strings.Contains(string(st), ") Z ") {
			continue // a zombie: dead, its parent not yet told
		}
		out = append(out, e.Name())
	}
	return out
}

// cgroupParent is a --cgroup-parent of the test's own: afterwards it must
// hold no cgroup (every step's was removed); it is removed at the end.
func cgroupParent(t *testing.T) string {
	name := "gantry-e2e-" + uniqueSleep()
	t.Cleanup(func() {
		for _, h := range []string{"", "pids", "memory", "unified"} {
			os.Remove(filepath.Join("/sys/fs/cgroup", h, name))
		}
	})
	return name
}

// leftCgroups lists the cgroups still below parent, in every hierarchy.
func leftCgroups(parent string) []string {
	var out []string
	for _, h := range []string{"", "pids", "memory", "unified"} {
		entries, _ := os.ReadDir(filepath.Join("/sys/fs/cgroup", h, parent))
		for _, e := range entries {
			if e.IsDir() {
				out = append(out, filepath.Join("/sys/fs/cgroup", h, parent, e.Name()))
			}
		}
	}
	return out
}

// forkLoop starts 200 sleeps; without a limit it ends at once (the
// sleeps end with it), so that a test whose limit is not applied fails
// rather than hangs.
const forkLoop = `i=0; while [ $i -lt 200 ]; do busybox sleep %s & i=$((i+1)); done; echo all started`

// A RUN step that forks without end is held at --pids-limit: its shell
// cannot fork, the step fails and says which limit stopped it, and none of
// its processes outlives it.
func TestCgroupBuildPidsLimit(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	n := uniqueSleep()
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("ARG BASE\nFROM $BASE\nRUN "+strings.ReplaceAll(forkLoop, "%s", n)+"\n"), 0o644)
	parent := cgroupParent(t)
	msg := e.gantryFails("build", dir, "--build-arg", "BASE="+baseRef("amd64"), "--pids-limit", "50", "--cgroup-parent", parent, "-t", "example.com/cgroup/pids:1")
	for _, want := range []string{"failed with exit code", "the pids limit (50) was reached", "can't fork"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the error does not say %q:\n%s", want, msg)
		}
	}
	if left := sleepersOf(n); len(left) > 0 {
		t.Errorf("processes %v of the failed step are still running", left)
	}
	if left := leftCgroups(parent); len(left) > 0 {
		t.Errorf("cgroups left behind: %v", left)
	}
}

// hog holds 200 MiB: busybox tail keeps a line until it ends, and /dev/zero
// has no newline. wc counts what tail gave back: all of it, held at once.
const hog = `set -o pipefail; busybox head -c 200m /dev/zero | busybox tail | busybox wc -c`

// A RUN step that needs more memory than --memory is killed by the
// kernel, and the error says so; without the flag the same step builds.
func TestCgroupBuildMemoryLimit(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("ARG BASE\nFROM $BASE\nRUN "+hog+" > /count\n"), 0o644)
	parent := cgroupParent(t)
	msg := e.gantryFails("build", dir, "--build-arg", "BASE="+baseRef("amd64"), "--memory", "64m", "--cgroup-parent", parent, "-t", "example.com/cgroup/mem:1")
	if !strings.Contains(msg, "was killed: out of memory (limit 64 MiB)") {
		t.Errorf("the error does not say out of memory:\n%s", msg)
	}
	if left := leftCgroups(parent); len(left) > 0 {
		t.Errorf("cgroups left behind: %v", left)
	}
	// As today without the flag: the step holds its 200 MiB and builds.
	e.gantry("build", dir, "--build-arg", "BASE="+baseRef("amd64"), "-t", "example.com/cgroup/mem:2")
	root := filepath.Join(t.TempDir(), "root")
	e.gantry("export", "example.com/cgroup/mem:2", "--dir", root)
	if b, _ := os.ReadFile(filepath.Join(root, "count")); strings.TrimSpace(string(b)) != "209715200" {
		t.Errorf("/count = %q, want 209715200: the step did not hold 200 MiB", b)
	}
}

// gantry run takes the same flags, and its command is held the same way.
func TestCgroupRunLimits(t *testing.T) {
	e := newEnv(t)
	n := uniqueSleep()
	parent := cgroupParent(t)
	_, stderr, err := e.run(nil, "run", "--rm", "--pids-limit", "20", "--cgroup-parent", parent, baseRef("amd64"), "sh", "-c", strings.ReplaceAll(forkLoop, "%s", n))
	if err == nil || !strings.Contains(stderr, "can't fork") || !strings.Contains(stderr, "gantry: the command failed: the pids limit (20) was reached") {
		t.Errorf("a fork loop under --pids-limit 20: %v\n%s", err, stderr)
	}
	if left := sleepersOf(n); len(left) > 0 {
		t.Errorf("processes %v of the command are still running", left)
	}
	_, stderr, err = e.run(nil, "run", "--rm", "--memory", "64m", "--cgroup-parent", parent, baseRef("amd64"), "sh", "-c", hog)
	if err == nil || !strings.Contains(stderr, "gantry: the command was killed: out of memory (limit 64 MiB)") {
		t.Errorf("a 200 MiB hog under --memory 64m: %v\n%s", err, stderr)
	}
	if left := leftCgroups(parent); len(left) > 0 {
		t.Errorf("cgroups left behind: %v", left)
	}
	if out := e.gantry("run", "--rm", baseRef("amd64"), "sh", "-c", hog); strings.TrimSpace(out) != "209715200" {
		t.Errorf("the hog without limits printed %q", out)
	}
}

// Docker's validation, before anything is pulled or built.
func TestCgroupFlagsValidated(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\n"), 0o644)
	for _, c := range []struct {
		flags []string
		want  string
	}{
		{[]string{"--memory", "1m"}, "Minimum memory limit allowed is 6MB"},
		{[]string{"--memory", "64m", "--memory-swap", "32m"}, "Minimum memoryswap limit should be larger than memory limit"},
		{[]string{"--memory-swap", "1g"}, "You should always set the Memory limit when using Memoryswap limit"},
		{[]string{"--memory", "lots"}, `invalid --memory "lots"`},
		{[]string{"--cgroup-parent", "../up"}, "invalid --cgroup-parent"},
	} {
		build := append([]string{"build", dir, "-t", "example.com/cgroup/v:1"}, c.flags...)
		if msg := e.gantryFails(build...); !strings.Contains(msg, c.want) {
			t.Errorf("build %v: %s, want %q", c.flags, msg, c.want)
		}
		run := append(append([]string{"run", "--rm"}, c.flags...), "no.such.registry.invalid/x", "true")
		if msg := e.gantryFails(run...); !strings.Contains(msg, c.want) {
			t.Errorf("run %v: %s, want %q", c.flags, msg, c.want)
		}
	}
}

// Without limits a step gets no cgroup, but what it leaves running in the
// background still ends with it: the sandbox's PID namespace ends when the
// step's first process does.
func TestSandboxBackgroundProcessEndsWithStep(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	n := uniqueSleep()
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("ARG BASE\nFROM $BASE\nRUN busybox sleep "+n+" & echo started\n"), 0o644)
	e.gantry("build", dir, "--build-arg", "BASE="+baseRef("amd64"), "-t", "example.com/cgroup/bg:1")
	if left := sleepersOf(n); len(left) > 0 {
		t.Errorf("processes %v of the built step are still running", left)
	}
	n2 := uniqueSleep()
	if out := e.gantry("run", "--rm", baseRef("amd64"), "sh", "-c", "busybox sleep "+n2+" & echo started"); strings.TrimSpace(out) != "started" {
		t.Errorf("run printed %q", out)
	}
	if left := sleepersOf(n2); len(left) > 0 {
		t.Errorf("processes %v of gantry run are still running", left)
	}
}

// Rootless gantry cannot make cgroups: without limits it builds as before
// (TestRootlessRun), with them it refuses in one line that says why.
func TestRootlessRefusesCgroupLimits(t *testing.T) {
	u := rootlessUser(t, "gantry-e2e", false)
	dir := filepath.Join(u.home, "ctx", "limits")
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM "+baseRef("amd64")+"\nRUN echo ran > /ran\n"), 0o644)
	sh(t, "chown", "-R", u.uid+":"+u.gid, dir)
	msg := u.env.gantryFails("build", dir, "--pids-limit", "50", "-t", "example.com/rootless/limits:1")
	if !strings.Contains(msg, "--pids-limit needs a cgroup, and gantry cannot make one here") || !strings.Contains(msg, "permission denied") || strings.Contains(msg, "\n") {
		t.Errorf("rootless --pids-limit: %s", msg)
	}
	u.env.gantry("build", dir, "-t", "example.com/rootless/limits:2")
	msg = u.env.gantryFails("run", "--rm", "--memory", "64m", baseRef("amd64"), "true")
	if !strings.Contains(msg, "--memory needs a cgroup") {
		t.Errorf("rootless run --memory: %s", msg)
	}
}

// In a CI container (Docker's default security) /sys/fs/cgroup is read
// only: limits are refused before the build, not ignored.
func TestCIContainerRefusesCgroupLimits(t *testing.T) {
	img := gantryImage(t)
	ctx := t.TempDir()
	os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte("ARG BASE\nFROM $BASE\nRUN true\n"), 0o644)
	out, err := ciJob(t, img, ctx, nil, "build", "/workspace", "--memory", "64m", "--build-arg", "BASE="+baseRef("amd64"), "-t", uniqueRepo("cilimits")+":1")
	if err == nil {
		t.Fatalf("--memory in a default container was accepted:\n%s", out)
	}
	if !strings.Contains(out, "--memory needs a cgroup, and gantry cannot make one here") || !strings.Contains(out, "read-only file system") {
		t.Errorf("the refusal does not say why:\n%s", out)
	}
}
