package cgroup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// v1 is a cgroup in each v1 hierarchy gantry uses: pids and memory, each
// mounted on its own (or with others).
type v1 struct {
	dirs map[string]string // controller → the cgroup's folder in its hierarchy
}

// newV1 makes leaf in the pids and memory hierarchies; a limit of a
// controller that is not mounted is refused.
func (h host) newV1(leaf string, l Limits) (backend, error) {
	need := map[string]bool{"pids": l.PidsLimit > 0, "memory": l.Memory > 0 || l.MemorySwap != 0}
	g := &v1{dirs: map[string]string{}}
	for _, c := range []string{"pids", "memory"} {
		root := h.v1[c]
		if root == "" {
			if need[c] {
				return nil, fmt.Errorf("the %s controller is not mounted (cgroup v1 here, without a %s hierarchy)", c, c)
			}
			continue
		}
		if err := h.mkdirAll(root, filepath.Dir(leaf)); err != nil {
			g.rmdir()
			return nil, fmt.Errorf("making cgroup %s: %w", filepath.Join(root, filepath.Dir(leaf)), err)
		}
		dir := filepath.Join(root, leaf)
		if err := h.mkdir(dir); err != nil {
			g.rmdir()
			return nil, fmt.Errorf("making cgroup %s: %w", dir, err)
		}
		g.dirs[c] = dir
	}
	if err := g.limit(l); err != nil {
		g.rmdir()
		return nil, err
	}
	return g, nil
}

func (g *v1) limit(l Limits) error {
	if l.PidsLimit > 0 {
		if err := write(g.dirs["pids"], "pids.max", strconv.FormatInt(l.PidsLimit, 10)); err != nil {
			return err
		}
	}
	mem := g.dirs["memory"]
	if l.Memory > 0 {
		if err := write(mem, "memory.limit_in_bytes", strconv.FormatInt(l.Memory, 10)); err != nil {
			return err
		}
	}
	// memsw is memory plus swap, as --memory-swap; it must not be below
	// the memory limit, which is why it comes second. Without swap
	// accounting (swapaccount=0) the file is missing and swap is not
	// limited, as with dockerd.
	if total := l.swapTotal(); total != 0 {
		if err := write(mem, "memory.memsw.limit_in_bytes", strconv.FormatInt(total, 10)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

func (g *v1) path() string {
	if d := g.dirs["pids"]; d != "" {
		return d
	}
	return g.dirs["memory"]
}

func (g *v1) join(pid int) error {
	for _, c := range []string{"pids", "memory"} {
		if d := g.dirs[c]; d != "" {
			if err := write(d, "cgroup.procs", strconv.Itoa(pid)); err != nil {
				return err
			}
		}
	}
	return nil
}

func (g *v1) cloneFD() (int, bool) { return -1, false } // CLONE_INTO_CGROUP is v2's

// events: the kernel counts OOM kills in memory.oom_control since 4.13;
// before, a memory.failcnt above 0 (the limit was hit) is the sign.
func (g *v1) events() (oomKilled, pidsMax bool) {
	if mem := g.dirs["memory"]; mem != "" {
		n := keyValue(filepath.Join(mem, "memory.oom_control"), "oom_kill")
		if n < 0 {
			n = keyValue1(filepath.Join(mem, "memory.failcnt"))
		}
		oomKilled = n > 0
	}
	if p := g.dirs["pids"]; p != "" {
		pidsMax = keyValue(filepath.Join(p, "pids.events"), "max") > 0
	}
	return oomKilled, pidsMax
}

// keyValue1 reads a file holding one number; -1 when it cannot.
func keyValue1(file string) int64 {
	b, err := os.ReadFile(file)
	if err != nil {
		return -1
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// procs: every process of the group is in each of its hierarchies.
func (g *v1) procs() ([]int, error) {
	seen := map[int]bool{}
	var out []int
	for _, d := range g.dirs {
		pids, err := readProcs(filepath.Join(d, "cgroup.procs"))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		for _, p := range pids {
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	return out, nil
}

func (g *v1) kill() bool { return false } // no cgroup.kill in v1

func (g *v1) rmdir() error {
	var errs []error
	for c, d := range g.dirs {
		if err := unix.Rmdir(d); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
			continue
		}
		delete(g.dirs, c)
	}
	return errors.Join(errs...)
}
