package cgroup

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The test binary is its own memory hog: with this variable set it
// allocates and touches 256 MiB, then exits 0.
func init() {
	if os.Getenv("GANTRY_CGROUP_TEST_HOG") != "1" {
		return
	}
	os.Stdin.Read(make([]byte, 1)) // gantry's go: the process is in its cgroup
	hog := make([][]byte, 0, 256)
	for i := 0; i < 256; i++ {
		b := make([]byte, 1<<20)
		for j := range b {
			b[j] = byte(j)
		}
		hog = append(hog, b)
	}
	fmt.Println(len(hog))
	os.Exit(0)
}

// realHost is this machine's cgroups, where the test may make some (root,
// a writable cgroupfs); others skip: test/e2e runs the same under
// GANTRY_E2E as root, and fails there instead.
func realHost(t *testing.T) host {
	h, err := detect("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.check(Limits{Parent: "gantry-test"}); err != nil {
		t.Skipf("no cgroup can be made here: %v", err)
	}
	t.Cleanup(func() {
		for _, root := range []string{h.v2, h.v1["pids"], h.v1["memory"]} {
			if root != "" {
				os.Remove(root + "/gantry-test")
			}
		}
	})
	return h
}

// startHeld starts a command that waits for a line on stdin before it goes
// on, so that it can be moved into its cgroup first.
func startHeld(t *testing.T, g *Group, env []string, name string, args ...string) (*exec.Cmd, func()) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if err := g.Join(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	return cmd, func() { io.WriteString(in, "go\n"); in.Close() }
}

// uniqueSleep is a duration no other run's sleep has: the test finds its
// own processes by it, and never touches another's.
func uniqueSleep() string { return strconv.Itoa(700000 + os.Getpid()) }

// sleepers lists the processes whose command line is "sleep ARG".
func sleepers(arg string) []string {
	var out []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && strings.Join(strings.Split(strings.TrimRight(string(b), "\x00"), "\x00"), " ") == "sleep "+arg {
			if st, _ := os.ReadFile("/proc/" + e.Name() + "/stat"); !strings.Contains(string(st), ") Z ") {
				out = append(out, e.Name())
			}
		}
	}
	return out
}

// On this machine's hierarchies (v1 here, v2 where the host has it): a
// fork beyond pids.max fails, Stopped says so, and Remove kills what the
// command left and removes the cgroup.
func TestRealPidsLimitAndKill(t *testing.T) {
	h := realHost(t)
	arg := uniqueSleep()
	g, err := h.create(Limits{PidsLimit: 10, Parent: "gantry-test"})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Remove()
	_, start := startHeld(t, g, nil, "sh", "-c", "arg="+arg+"; read x; i=0; while [ $i -lt 30 ]; do sleep $arg & i=$((i+1)); done; echo all started; wait")
	start()
	deadline := time.Now().Add(10 * time.Second)
	for len(sleepers(arg)) < 9 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := len(sleepers(arg)); n > 9 {
		t.Errorf("%d sleeps beside the shell, pids.max is 10", n)
	}
	time.Sleep(200 * time.Millisecond)
	if got := g.Stopped(); got != "the pids limit (10) was reached" {
		t.Errorf("Stopped() = %q", got)
	}
	dir := g.Path()
	if err := g.Remove(); err != nil {
		t.Fatal(err)
	}
	if left := sleepers(arg); len(left) > 0 {
		t.Errorf("processes %v outlived their cgroup", left)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s is still there: %v", dir, err)
	}
}

// A process that touches more memory than memory.max (v2) or
// memory.limit_in_bytes (v1) is killed by the kernel, and Stopped says
// so; under the limit the same hog runs.
func TestRealMemoryLimit(t *testing.T) {
	h := realHost(t)
	for _, c := range []struct {
		limit int64
		oom   bool
	}{{64 << 20, true}, {512 << 20, false}} {
		g, err := h.create(Limits{Memory: c.limit, MemorySwap: c.limit, Parent: "gantry-test"})
		if err != nil {
			t.Fatal(err)
		}
		cmd, start := startHeld(t, g, []string{"GANTRY_CGROUP_TEST_HOG=1"}, os.Args[0])
		start()
		err = cmd.Wait()
		stopped := g.Stopped()
		if rerr := g.Remove(); rerr != nil {
			t.Error(rerr)
		}
		if c.oom {
			if err == nil || stopped != "out of memory (limit 64 MiB)" {
				t.Errorf("limit %d: hog ended with %v, Stopped() = %q", c.limit, err, stopped)
			}
		} else if err != nil || stopped != "" {
			t.Errorf("limit %d: hog ended with %v, Stopped() = %q", c.limit, err, stopped)
		}
	}
}

// The unified hierarchy of a hybrid host has no controllers, but
// cgroup.procs, cgroup.kill and rmdir work there as on a v2 host.
func TestRealV2Kill(t *testing.T) {
	h := realHost(t)
	if h.v2 == "" {
		t.Skip("no cgroup2 mount")
	}
	arg := uniqueSleep()
	v2host := host{v2: h.v2, mkdir: h.mkdir}
	g, err := v2host.create(Limits{Parent: "gantry-test"})
	if err != nil {
		t.Skipf("cgroup2 at %s: %v", h.v2, err)
	}
	defer g.Remove()
	_, start := startHeld(t, g, nil, "sh", "-c", "arg="+arg+"; read x; sleep $arg & sleep $arg & wait")
	start()
	deadline := time.Now().Add(10 * time.Second)
	for len(sleepers(arg)) < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := len(sleepers(arg)); n != 2 {
		t.Fatalf("%d sleeps started, want 2", n)
	}
	dir := g.Path()
	if err := g.Remove(); err != nil {
		t.Fatal(err)
	}
	if left := sleepers(arg); len(left) > 0 {
		t.Errorf("processes %v outlived their cgroup", left)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s is still there: %v", dir, err)
	}
}

// A gantry that was killed cannot remove its step's cgroup: the next one
// removes such leftovers under the same parent (gantry's own names, empty,
// older than a minute), and leaves a fresh one (another gantry about to
// move its step in) and anything else alone.
func TestLeftoverCgroupsAreRemoved(t *testing.T) {
	h := realHost(t)
	parent := h.roots()[0] + "/gantry-test" // where create makes it
	if err := os.MkdirAll(parent, 0o755); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	mk := func(name string, age time.Time) string {
		p := parent + "/" + name
		if err := os.Mkdir(p, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, age, age); err != nil {
			t.Skipf("this cgroupfs keeps no times: %v", err)
		}
		t.Cleanup(func() { os.Remove(p) })
		return p
	}
	stale := mk("0123456789ab", old)
	fresh := mk("ba9876543210", time.Now())
	other := mk("not-gantrys", old)
	g, err := h.create(Limits{Parent: "gantry-test", PidsLimit: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Remove()
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("the leftover %s is still there (%v)", stale, err)
	}
	for _, p := range []string{fresh, other, g.Path()} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s was removed: %v", p, err)
		}
	}
}
