package cgroup

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// fakeV2 is a cgroup2 root in a temporary folder whose mkdir does what the
// kernel does: a new cgroup gets the core files, and the files of each
// controller its parent passes on (cgroup.subtree_control). A limit
// written without its controller enabled has no file to go to, and fails
// as on a host.
func fakeV2(t *testing.T, controllers string, swap bool) host {
	root := t.TempDir()
	files := map[string]string{"cgroup.controllers": controllers, "cgroup.subtree_control": "", "cgroup.procs": ""}
	for f, v := range files {
		os.WriteFile(filepath.Join(root, f), []byte(v), 0o644)
	}
	mkdir := func(dir string) error {
		if err := os.Mkdir(dir, 0o755); err != nil {
			return err
		}
		passed, _ := os.ReadFile(filepath.Join(filepath.Dir(dir), "cgroup.subtree_control"))
		on := strings.ReplaceAll(string(passed), "+", "")
		files := []string{"cgroup.procs", "cgroup.subtree_control", "cgroup.kill", "cgroup.events"}
		for _, c := range strings.Fields(on) {
			switch c {
			case "pids":
				files = append(files, "pids.max", "pids.events")
			case "memory":
				files = append(files, "memory.max", "memory.events")
				if swap {
					files = append(files, "memory.swap.max")
				}
			}
		}
		os.WriteFile(filepath.Join(dir, "cgroup.controllers"), []byte(on), 0o644)
		for _, f := range files {
			os.WriteFile(filepath.Join(dir, f), nil, 0o644)
		}
		return nil
	}
	return host{v2: root, v1: map[string]string{}, mkdir: mkdir}
}

// fakeV1 is a pids and a memory hierarchy (memsw: with swap accounting).
func fakeV1(t *testing.T, memsw bool) host {
	pids, mem := t.TempDir(), t.TempDir()
	mkdir := func(dir string) error {
		if err := os.Mkdir(dir, 0o755); err != nil {
			return err
		}
		files := []string{"cgroup.procs", "tasks"}
		switch {
		case strings.HasPrefix(dir, pids):
			files = append(files, "pids.max", "pids.events")
		case strings.HasPrefix(dir, mem):
			files = append(files, "memory.limit_in_bytes", "memory.oom_control", "memory.failcnt")
			if memsw {
				files = append(files, "memory.memsw.limit_in_bytes")
			}
		}
		for _, f := range files {
			os.WriteFile(filepath.Join(dir, f), nil, 0o644)
		}
		return nil
	}
	return host{v1: map[string]string{"pids": pids, "memory": mem}, mkdir: mkdir}
}

func read(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestDetect(t *testing.T) {
	hybrid := `25 30 0:23 / /sys/fs/cgroup rw,nosuid - tmpfs tmpfs rw,mode=755
26 25 0:24 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw
27 25 0:25 / /sys/fs/cgroup/cpu,cpuacct rw shared:9 - cgroup cgroup rw,cpu,cpuacct
28 25 0:26 / /sys/fs/cgroup/memory rw shared:10 - cgroup cgroup rw,memory
29 25 0:27 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids
30 25 0:28 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd
`
	unified := "31 1 0:26 / /sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n"
	for _, c := range []struct {
		name, mountinfo, v2, pids, mem string
	}{
		{"hybrid", hybrid, "/sys/fs/cgroup/unified", "/sys/fs/cgroup/pids", "/sys/fs/cgroup/memory"},
		{"unified", unified, "/sys/fs/cgroup", "", ""},
		{"none", "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n", "", "", ""},
	} {
		p := filepath.Join(t.TempDir(), "mountinfo")
		os.WriteFile(p, []byte(c.mountinfo), 0o644)
		h, err := detect(p)
		if err != nil {
			t.Fatal(err)
		}
		if h.v2 != c.v2 || h.v1["pids"] != c.pids || h.v1["memory"] != c.mem {
			t.Errorf("%s: v2 %q pids %q memory %q", c.name, h.v2, h.v1["pids"], h.v1["memory"])
		}
	}
}

// v2: the controllers are passed down from the root to the leaf, and the
// leaf gets docker's values (memory.swap.max is swap alone: --memory-swap
// minus --memory).
func TestV2Limits(t *testing.T) {
	h := fakeV2(t, "cpuset cpu io memory pids", true)
	g, err := h.create(Limits{Memory: 64 << 20, MemorySwap: 100 << 20, PidsLimit: 50, Parent: "ci/jobs"})
	if err != nil {
		t.Fatal(err)
	}
	dir := g.Path()
	if filepath.Dir(dir) != filepath.Join(h.v2, "ci/jobs") {
		t.Errorf("cgroup at %s, want below %s/ci/jobs", dir, h.v2)
	}
	for _, d := range []string{h.v2, filepath.Join(h.v2, "ci"), filepath.Join(h.v2, "ci/jobs")} {
		if got := read(t, filepath.Join(d, "cgroup.subtree_control")); got != "+pids +memory" {
			t.Errorf("%s/cgroup.subtree_control = %q", d, got)
		}
	}
	for f, want := range map[string]string{"pids.max": "50", "memory.max": "67108864", "memory.swap.max": "37748736"} {
		if got := read(t, filepath.Join(dir, f)); got != want {
			t.Errorf("%s = %q, want %q", f, got, want)
		}
	}
	if err := g.Join(4242); err != nil {
		t.Fatal(err)
	}
	if got := read(t, filepath.Join(dir, "cgroup.procs")); got != "4242" {
		t.Errorf("cgroup.procs = %q", got)
	}
	if fd, ok := g.CloneFD(); !ok || fd < 0 {
		t.Error("no descriptor for CLONE_INTO_CGROUP on v2")
	}
}

// Docker's defaults and -1: as much swap as memory; unlimited swap; no
// swap accounting (no memory.swap.max) is no error.
func TestV2Swap(t *testing.T) {
	for _, c := range []struct {
		l    Limits
		swap bool
		want string
	}{
		{Limits{Memory: 64 << 20}, true, "67108864"},
		{Limits{Memory: 64 << 20, MemorySwap: -1}, true, "max"},
		{Limits{Memory: 64 << 20}, false, ""},
	} {
		h := fakeV2(t, "memory pids", c.swap)
		g, err := h.create(c.l)
		if err != nil {
			t.Fatalf("%+v: %v", c.l, err)
		}
		b, _ := os.ReadFile(filepath.Join(g.Path(), "memory.swap.max"))
		if string(b) != c.want {
			t.Errorf("%+v: memory.swap.max = %q, want %q", c.l, b, c.want)
		}
		if _, err := os.Stat(filepath.Join(g.Path(), "pids.max")); err == nil {
			t.Errorf("%+v: the pids controller was enabled, no pids limit asked", c.l)
		}
	}
}

func TestV2MissingController(t *testing.T) {
	h := fakeV2(t, "cpu memory", true)
	_, err := h.create(Limits{PidsLimit: 10})
	if err == nil || !strings.Contains(err.Error(), "no pids controller") {
		t.Errorf("err = %v", err)
	}
}

func TestV1Limits(t *testing.T) {
	for _, c := range []struct {
		l         Limits
		memsw     bool
		wantMemsw string
	}{
		{Limits{Memory: 64 << 20, PidsLimit: 50}, true, "134217728"},
		{Limits{Memory: 64 << 20, MemorySwap: -1, PidsLimit: 50}, true, "-1"},
		{Limits{Memory: 64 << 20, PidsLimit: 50}, false, ""},
	} {
		h := fakeV1(t, c.memsw)
		g, err := h.create(c.l)
		if err != nil {
			t.Fatal(err)
		}
		b := g.b.(*v1)
		pids, mem := b.dirs["pids"], b.dirs["memory"]
		if filepath.Dir(pids) != filepath.Join(h.v1["pids"], "gantry") || filepath.Base(pids) != filepath.Base(mem) {
			t.Errorf("cgroups %s and %s, want gantry/NAME in each hierarchy", pids, mem)
		}
		if got := read(t, filepath.Join(pids, "pids.max")); got != "50" {
			t.Errorf("pids.max = %q", got)
		}
		if got := read(t, filepath.Join(mem, "memory.limit_in_bytes")); got != "67108864" {
			t.Errorf("memory.limit_in_bytes = %q", got)
		}
		got, _ := os.ReadFile(filepath.Join(mem, "memory.memsw.limit_in_bytes"))
		if string(got) != c.wantMemsw {
			t.Errorf("%+v: memory.memsw.limit_in_bytes = %q, want %q", c.l, got, c.wantMemsw)
		}
		if err := g.Join(4242); err != nil {
			t.Fatal(err)
		}
		for _, d := range []string{pids, mem} {
			if got := read(t, filepath.Join(d, "cgroup.procs")); got != "4242" {
				t.Errorf("%s/cgroup.procs = %q", d, got)
			}
		}
		if _, ok := g.CloneFD(); ok {
			t.Error("v1 offered a CLONE_INTO_CGROUP descriptor")
		}
	}
}

func TestV1MissingHierarchy(t *testing.T) {
	h := fakeV1(t, true)
	delete(h.v1, "pids")
	if _, err := h.create(Limits{PidsLimit: 5}); err == nil || !strings.Contains(err.Error(), "pids controller is not mounted") {
		t.Errorf("err = %v", err)
	}
	if _, err := h.create(Limits{Memory: 64 << 20}); err != nil {
		t.Errorf("a memory limit without a pids hierarchy: %v", err)
	}
}

// Stopped reads the kernel's counters: an OOM kill, a fork refused at
// pids.max.
func TestStopped(t *testing.T) {
	l := Limits{Memory: 64 << 20, PidsLimit: 50}
	h2 := fakeV2(t, "memory pids", false)
	g2, err := h2.create(l)
	if err != nil {
		t.Fatal(err)
	}
	h1 := fakeV1(t, false)
	g1, err := h1.create(l)
	if err != nil {
		t.Fatal(err)
	}
	v1dirs := g1.b.(*v1).dirs
	for _, c := range []struct {
		g          *Group
		file, data string
		want       string
	}{
		{g2, "", "", ""},
		{g2, "memory.events", "low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\n", "out of memory (limit 64 MiB)"},
		{g2, "pids.events", "max 3\n", "out of memory (limit 64 MiB)"}, // both: memory says more
		{g1, "", "", ""},
		{g1, filepath.Join(v1dirs["pids"], "pids.events"), "max 7\n", "the pids limit (50) was reached"},
		{g1, filepath.Join(v1dirs["memory"], "memory.oom_control"), "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n", "out of memory (limit 64 MiB)"},
	} {
		if c.file != "" {
			p := c.file
			if !filepath.IsAbs(p) {
				p = filepath.Join(c.g.Path(), p)
			}
			os.WriteFile(p, []byte(c.data), 0o644)
		}
		if got := c.g.Stopped(); got != c.want {
			t.Errorf("after %s: Stopped() = %q, want %q", c.file, got, c.want)
		}
	}
}

// A cgroupfs gantry may not write: the error names the flags and says
// what to do.
func TestCheckRefuses(t *testing.T) {
	h := fakeV1(t, true)
	h.mkdir = func(string) error { return syscall.EROFS }
	err := h.check(Limits{Memory: 64 << 20, PidsLimit: 10})
	if err == nil {
		t.Fatal("a read-only cgroupfs was accepted")
	}
	for _, want := range []string{"--memory, --pids-limit need a cgroup", "read-only file system", "run gantry as root"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not say %q", err, want)
		}
	}
	if !errors.Is(err, syscall.EROFS) {
		t.Errorf("%v does not wrap EROFS", err)
	}
}
