package cgroup

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Group is one command's cgroup: made with its limits before the command
// starts, removed (what is left in it killed) when the command has ended.
type Group struct {
	l Limits
	b backend
}

// backend is a cgroup of one version: v2.go and v1.go.
type backend interface {
	join(pid int) error
	cloneFD() (int, bool) // v2: the folder, for clone3's CLONE_INTO_CGROUP
	events() (oomKilled, pidsMax bool)
	procs() ([]int, error)
	kill() bool // cgroup.kill: the kernel kills them all; false where there is none
	rmdir() error
	path() string
}

// host is where this machine mounts its cgroup hierarchies.
type host struct {
	v2 string            // the cgroup2 mount point; "" none
	v1 map[string]string // a v1 controller (pids, memory) → its hierarchy's mount point
	// mkdir makes a cgroup: os.Mkdir, whose cgroupfs fills the folder
	// with the controllers' files; the tests' fake kernel does too.
	mkdir func(string) error
}

// New makes the cgroup of one command, with l's limits, under l.Parent;
// the caller moves the command into it (Join, or CloneFD), and removes it
// when the command has ended.
func New(l Limits) (*Group, error) {
	if err := l.Validate(); err != nil {
		return nil, err
	}
	h, err := detect("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	return h.create(l)
}

// Check tells, before a build, whether commands with l can run here: nil
// when l asks for nothing or a cgroup could be made (it is made and removed
// again); else one line saying why not and what to do.
func Check(l Limits) error {
	if !l.Any() {
		return nil
	}
	if err := l.Validate(); err != nil {
		return err
	}
	h, err := detect("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	return h.check(l)
}

func (h host) check(l Limits) error {
	g, err := h.create(l)
	if err != nil {
		verb := "needs"
		if strings.Contains(l.flags(), ",") {
			verb = "need"
		}
		return fmt.Errorf("%s %s a cgroup, and gantry cannot make one here (%w): run gantry as root where /sys/fs/cgroup is writable (not rootless, not in a container with a read-only cgroupfs), or leave the flags out", l.flags(), verb, err)
	}
	return g.Remove()
}

func (h host) create(l Limits) (*Group, error) {
	parent, err := l.parentPath()
	if err != nil {
		return nil, err
	}
	h.removeLeftovers(parent)
	name := make([]byte, leafBytes)
	rand.Read(name)
	leaf := filepath.Join(parent, hex.EncodeToString(name))
	var b backend
	switch roots := h.roots(); {
	case len(roots) == 0:
		return nil, errors.New("no cgroup filesystem is mounted at /sys/fs/cgroup")
	case roots[0] == h.v2:
		b, err = h.newV2(leaf, l)
	default:
		b, err = h.newV1(leaf, l)
	}
	if err != nil {
		return nil, err
	}
	return &Group{l: l, b: b}, nil
}

// roots are the hierarchies a step's cgroup is made in: the v1 pids and
// memory ones where they are mounted (v1 or hybrid hosts), else the v2
// one; none when nothing is mounted.
func (h host) roots() []string {
	var v1 []string
	for _, c := range []string{"pids", "memory"} {
		if h.v1[c] != "" {
			v1 = append(v1, h.v1[c])
		}
	}
	switch {
	case len(v1) > 0:
		return v1
	case h.v2 != "":
		return []string{h.v2}
	}
	return nil
}

// leafBytes is the random part of a step's cgroup name, in hex.
const leafBytes = 6

// leftoverAge is how long a step's cgroup can stay empty: a step joins its
// cgroup a moment after it is made, so an empty one older than this was
// left by a gantry that was killed before it could remove it.
const leftoverAge = time.Minute

// removeLeftovers removes the step cgroups under parent that a killed
// gantry left: gantry's names, empty (the kernel refuses to remove a
// cgroup with processes), older than leftoverAge. Failing to is harmless.
func (h host) removeLeftovers(parent string) {
	for _, root := range h.roots() {
		dir := filepath.Join(root, parent)
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range entries {
			if !e.IsDir() || !isLeafName(e.Name()) {
				continue
			}
			if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > leftoverAge {
				unix.Rmdir(filepath.Join(dir, e.Name()))
			}
		}
	}
}

func isLeafName(s string) bool {
	if len(s) != 2*leafBytes {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil && strings.ToLower(s) == s
}

// Join moves the process pid into the group: the sandbox's first process,
// before it starts the command.
func (g *Group) Join(pid int) error {
	if err := g.b.join(pid); err != nil {
		return fmt.Errorf("moving the command into cgroup %s: %w", g.b.path(), err)
	}
	return nil
}

// CloneFD is the group's folder open for clone3's CLONE_INTO_CGROUP
// (syscall.SysProcAttr's UseCgroupFD): the process starts in the group.
// cgroup v1 has none (false): Join is the way there.
func (g *Group) CloneFD() (int, bool) { return g.b.cloneFD() }

// Path is the group's folder, for messages.
func (g *Group) Path() string { return g.b.path() }

// Stopped says which of the limits stopped the command, if one did: the
// kernel killed a process for want of memory, or refused a fork at the
// pids limit. "" when neither happened.
func (g *Group) Stopped() string {
	if g == nil {
		return ""
	}
	oom, pids := g.b.events()
	switch {
	case oom && g.l.Memory > 0:
		return fmt.Sprintf("out of memory (limit %s)", Size(g.l.Memory))
	case oom:
		return "out of memory"
	case pids:
		return fmt.Sprintf("the pids limit (%d) was reached", g.l.PidsLimit)
	}
	return ""
}

// OOMKilled tells whether the memory limit killed a process of the group.
func (g *Group) OOMKilled() bool {
	if g == nil {
		return false
	}
	oom, _ := g.b.events()
	return oom
}

// Remove kills every process left in the group and removes it. A nil
// group does nothing.
func (g *Group) Remove() error {
	if g == nil {
		return nil
	}
	killErr := g.killAll(10 * time.Second)
	// A killed process leaves its cgroup as it exits: the folder may stay
	// busy for a moment after the list is empty.
	var err error
	for i := 0; i < 100; i++ {
		if err = g.b.rmdir(); err == nil || errors.Is(err, os.ErrNotExist) {
			return killErr
		}
		time.Sleep(10 * time.Millisecond)
	}
	return errors.Join(killErr, fmt.Errorf("removing cgroup %s: %w", g.b.path(), err))
}

// killAll kills the group's processes until none is left: at once with
// cgroup.kill (Linux 5.14+), else one by one, again while a fork races the
// kill.
func (g *Group) killAll(wait time.Duration) error {
	killed := g.b.kill()
	deadline := time.Now().Add(wait)
	for {
		pids, err := g.b.procs()
		if err != nil || len(pids) == 0 {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cgroup %s: processes %v are still running after SIGKILL", g.b.path(), pids)
		}
		if !killed {
			for _, pid := range pids {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// detect reads where the hierarchies are mounted from mountinfo.
func detect(mountinfo string) (host, error) {
	f, err := os.Open(mountinfo)
	if err != nil {
		return host{}, err
	}
	defer f.Close()
	h := host{v1: map[string]string{}, mkdir: func(p string) error { return os.Mkdir(p, 0o755) }}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL…] - FSTYPE SOURCE SUPEROPTS
		fields := strings.Fields(sc.Text())
		sep := -1
		for i, f := range fields {
			if f == "-" {
				sep = i
				break
			}
		}
		if sep < 5 || len(fields) < sep+4 {
			continue
		}
		mnt, fstype := fields[4], fields[sep+1]
		switch fstype {
		case "cgroup2":
			if h.v2 == "" {
				h.v2 = mnt
			}
		case "cgroup":
			for _, opt := range strings.Split(fields[sep+3], ",") {
				if (opt == "pids" || opt == "memory") && h.v1[opt] == "" {
					h.v1[opt] = mnt
				}
			}
		}
	}
	return h, sc.Err()
}

// mkdirAll makes dir and the cgroups above it, up to root, which exists.
func (h host) mkdirAll(root, rel string) error {
	dir := root
	for _, part := range strings.Split(rel, "/") {
		dir = filepath.Join(dir, part)
		if err := h.mkdir(dir); err != nil && !errors.Is(err, os.ErrExist) {
			return err
		}
	}
	return nil
}

// write sets one of a cgroup's files, which the kernel made: never
// created here.
func write(dir, file, value string) error {
	f, err := os.OpenFile(filepath.Join(dir, file), os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(value)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %s to %s: %w", value, filepath.Join(dir, file), err)
	}
	return nil
}

// readProcs reads a cgroup.procs file.
func readProcs(file string) ([]int, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// keyValue reads the number after key in a flat keyed file (memory.events,
// pids.events, memory.oom_control); -1 when the key is missing.
func keyValue(file, key string) int64 {
	b, err := os.ReadFile(file)
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, " "); ok && k == key {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err == nil {
				return n
			}
		}
	}
	return -1
}
