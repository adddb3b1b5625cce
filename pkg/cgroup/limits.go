// Package cgroup holds a command's processes in a control group of their
// own, where the host lets gantry make one: docker's --memory,
// --memory-swap and --pids-limit become the group's limits, and when the
// command ends, whatever it left running is killed with the group. Hosts
// run cgroup v2 (one hierarchy, /sys/fs/cgroup) or v1 (a hierarchy per
// controller, /sys/fs/cgroup/pids, /sys/fs/cgroup/memory …, often beside an
// empty v2 one: "hybrid"); a Group is the same for both.
package cgroup

import (
	"errors"
	"fmt"
	"path"
	"strings"

	units "github.com/docker/go-units"
)

// Limits are one command's limits, as docker run and docker build take
// them. The zero value asks for nothing: no cgroup is made.
type Limits struct {
	Memory int64 // --memory, bytes; 0: none
	// MemorySwap is --memory-swap: memory plus swap, in bytes; -1:
	// unlimited swap; 0: as much swap as memory (docker's default).
	MemorySwap int64
	PidsLimit  int64 // --pids-limit; 0 or -1: none
	// Parent is --cgroup-parent: where the command's cgroup is made,
	// from the hierarchy's root; "" is "gantry".
	Parent string
}

// minMemory is dockerd's floor (linuxMinMemory): below it a container
// cannot start at all.
const minMemory = 6 << 20

// DefaultParent is where commands' cgroups are made without
// --cgroup-parent.
const DefaultParent = "gantry"

// Any tells whether l asks for a cgroup.
func (l Limits) Any() bool {
	return l.Memory > 0 || l.MemorySwap != 0 || l.PidsLimit > 0 || l.Parent != ""
}

// Validate refuses what dockerd refuses, with its messages.
func (l Limits) Validate() error {
	if l.Memory > 0 && l.Memory < minMemory {
		return errors.New("invalid --memory: Minimum memory limit allowed is 6MB")
	}
	if l.Memory == 0 && l.MemorySwap > 0 {
		return errors.New("invalid --memory-swap: You should always set the Memory limit when using Memoryswap limit, see usage")
	}
	if l.MemorySwap > 0 && l.MemorySwap < l.Memory {
		return errors.New("invalid --memory-swap: Minimum memoryswap limit should be larger than memory limit, see usage")
	}
	if l.MemorySwap < -1 {
		return errors.New("invalid --memory-swap: use a size, or -1 for unlimited swap")
	}
	if _, err := l.parentPath(); err != nil {
		return err
	}
	return nil
}

// parentPath is Parent relative to a hierarchy's root, cleaned; a path
// that climbs above the root is refused.
func (l Limits) parentPath() (string, error) {
	if l.Parent == "" {
		return DefaultParent, nil
	}
	for _, part := range strings.Split(l.Parent, "/") {
		if part == ".." {
			return "", fmt.Errorf("invalid --cgroup-parent %q: a path below the cgroup root, without '..'", l.Parent)
		}
	}
	p := strings.Trim(path.Clean("/"+l.Parent), "/")
	if p == "" {
		return "", fmt.Errorf("invalid --cgroup-parent %q: name a cgroup below the root, e.g. gantry or ci/jobs", l.Parent)
	}
	return p, nil
}

// swapTotal is the memory-plus-swap limit to write: 0 none, -1 unlimited.
// With --memory and no --memory-swap, docker allows as much swap as
// memory.
func (l Limits) swapTotal() int64 {
	switch {
	case l.MemorySwap != 0:
		return l.MemorySwap
	case l.Memory > 0:
		return 2 * l.Memory
	}
	return 0
}

// ParseMemory reads a size as docker's --memory does (go-units'
// RAMInBytes: 512m, 1g, 64MiB, plain bytes); flag names the flag in the
// error.
func ParseMemory(flag, s string) (int64, error) {
	v, err := units.RAMInBytes(s)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("invalid %s %q: use a size such as 512m or 1g (units b, k, m, g)", flag, s)
	}
	return v, nil
}

// ParseMemorySwap reads --memory-swap: a size, or -1 for unlimited swap.
func ParseMemorySwap(s string) (int64, error) {
	if s == "-1" {
		return -1, nil
	}
	return ParseMemory("--memory-swap", s)
}

// Size writes bytes for people: 64 MiB, 1.5 GiB.
func Size(b int64) string {
	return units.CustomSize("%.4g %s", float64(b), 1024, []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB"})
}

// flags names the flags l comes from, for errors.
func (l Limits) flags() string {
	var fs []string
	if l.Memory > 0 {
		fs = append(fs, "--memory")
	}
	if l.MemorySwap != 0 {
		fs = append(fs, "--memory-swap")
	}
	if l.PidsLimit > 0 {
		fs = append(fs, "--pids-limit")
	}
	if l.Parent != "" {
		fs = append(fs, "--cgroup-parent")
	}
	return strings.Join(fs, ", ")
}
