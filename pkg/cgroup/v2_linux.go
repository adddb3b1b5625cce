package cgroup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// v2 is a cgroup of the unified hierarchy: one folder, every controller.
type v2 struct {
	dir string
	fd  int // the folder, open for CLONE_INTO_CGROUP; -1 not yet
}

// newV2 makes leaf below the cgroup2 root. A cgroup has a controller's
// files only when its parent passes it on (cgroup.subtree_control), and
// the parent's parent too, up to the root; a cgroup that holds processes
// of its own cannot pass controllers on ("no internal processes"), so
// leaf's parents must hold none.
func (h host) newV2(leaf string, l Limits) (backend, error) {
	var want []string
	if l.PidsLimit > 0 {
		want = append(want, "pids")
	}
	if l.Memory > 0 || l.MemorySwap != 0 {
		want = append(want, "memory")
	}
	if len(want) > 0 {
		b, err := os.ReadFile(filepath.Join(h.v2, "cgroup.controllers"))
		if err != nil {
			return nil, err
		}
		have := strings.Fields(string(b))
		for _, c := range want {
			if !slices.Contains(have, c) {
				return nil, fmt.Errorf("cgroup v2 at %s has no %s controller (cgroup.controllers: %q)", h.v2, c, strings.TrimSpace(string(b)))
			}
		}
	}
	parent := filepath.Dir(leaf)
	dir := h.v2
	for _, part := range append(strings.Split(parent, "/"), "") {
		if err := enable(dir, want); err != nil {
			return nil, err
		}
		if part == "" {
			break
		}
		dir = filepath.Join(dir, part)
		if err := h.mkdir(dir); err != nil && !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("making cgroup %s: %w", dir, err)
		}
	}
	g := &v2{dir: filepath.Join(h.v2, leaf), fd: -1}
	if err := h.mkdir(g.dir); err != nil {
		return nil, fmt.Errorf("making cgroup %s: %w", g.dir, err)
	}
	if err := g.limit(l); err != nil {
		g.rmdir()
		return nil, err
	}
	return g, nil
}

// enable passes the controllers on to dir's children, where it does not
// yet.
func enable(dir string, controllers []string) error {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.subtree_control"))
	if err != nil {
		return err
	}
	have := strings.Fields(string(b))
	var add []string
	for _, c := range controllers {
		if !slices.Contains(have, c) {
			add = append(add, "+"+c)
		}
	}
	if len(add) == 0 {
		return nil
	}
	err = write(dir, "cgroup.subtree_control", strings.Join(add, " "))
	if errors.Is(err, syscall.EBUSY) {
		return fmt.Errorf("%w (cgroup v2 passes controllers on only from a cgroup without processes of its own: give --cgroup-parent an empty cgroup)", err)
	}
	return err
}

func (g *v2) limit(l Limits) error {
	if l.PidsLimit > 0 {
		if err := write(g.dir, "pids.max", strconv.FormatInt(l.PidsLimit, 10)); err != nil {
			return err
		}
	}
	if l.Memory > 0 {
		if err := write(g.dir, "memory.max", strconv.FormatInt(l.Memory, 10)); err != nil {
			return err
		}
	}
	// memory.swap.max is swap alone; --memory-swap is memory plus swap.
	// Without swap accounting the file is missing, and swap is not
	// limited (dockerd warns and goes on likewise).
	if total := l.swapTotal(); total != 0 {
		v := "max"
		if total > 0 {
			v = strconv.FormatInt(total-l.Memory, 10)
		}
		if err := write(g.dir, "memory.swap.max", v); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

func (g *v2) path() string { return g.dir }

func (g *v2) join(pid int) error { return write(g.dir, "cgroup.procs", strconv.Itoa(pid)) }

func (g *v2) cloneFD() (int, bool) {
	if g.fd < 0 {
		fd, err := unix.Open(g.dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return -1, false
		}
		g.fd = fd
	}
	return g.fd, true
}

func (g *v2) events() (oomKilled, pidsMax bool) {
	return keyValue(filepath.Join(g.dir, "memory.events"), "oom_kill") > 0,
		keyValue(filepath.Join(g.dir, "pids.events"), "max") > 0
}

func (g *v2) procs() ([]int, error) { return readProcs(filepath.Join(g.dir, "cgroup.procs")) }

func (g *v2) kill() bool { return write(g.dir, "cgroup.kill", "1") == nil }

func (g *v2) rmdir() error {
	if g.fd >= 0 {
		unix.Close(g.fd)
		g.fd = -1
	}
	return unix.Rmdir(g.dir)
}
