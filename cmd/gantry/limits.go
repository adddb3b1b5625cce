package main

import (
	"github.com/spf13/pflag"

	"github.com/gantry-build/gantry/pkg/cgroup"
)

// limitFlags are docker's cgroup flags, for every RUN step of a build and
// for gantry run's command.
type limitFlags struct {
	memory, memorySwap, parent string
	pids                       int64
}

func (l *limitFlags) register(f *pflag.FlagSet, what string) {
	f.StringVarP(&l.memory, "memory", "m", "", "memory limit of "+what+", as docker's: e.g. 512m, 1g (b, k, m, g)")
	f.StringVar(&l.memorySwap, "memory-swap", "", "memory plus swap limit of "+what+" (-1: unlimited swap; default: as much swap as --memory)")
	f.Int64Var(&l.pids, "pids-limit", 0, "most processes and threads "+what+" may have at once (-1: unlimited)")
	f.StringVar(&l.parent, "cgroup-parent", "", "cgroup, from the hierarchy's root, in which "+what+" gets a cgroup of its own (default "+cgroup.DefaultParent+", where limits are given)")
}

// limits reads the flags as docker does, and makes sure, before anything
// is pulled or built, that gantry can make a cgroup here when they ask for
// limits.
func (l *limitFlags) limits() (cgroup.Limits, error) {
	var out cgroup.Limits
	var err error
	if l.memory != "" {
		if out.Memory, err = cgroup.ParseMemory("--memory", l.memory); err != nil {
			return out, err
		}
	}
	if l.memorySwap != "" {
		if out.MemorySwap, err = cgroup.ParseMemorySwap(l.memorySwap); err != nil {
			return out, err
		}
	}
	out.PidsLimit, out.Parent = l.pids, l.parent
	if err := out.Validate(); err != nil {
		return out, err
	}
	return out, cgroup.Check(out)
}
