package sandbox

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/gantry-build/gantry/pkg/cgroup"
)

// limitsHere skips where gantry cannot make cgroups (the e2e suite runs
// the same as root, and fails there instead).
func limitsHere(t *testing.T, l cgroup.Limits) {
	if err := cgroup.Check(l); err != nil {
		t.Skip(err)
	}
	t.Cleanup(func() {
		for _, h := range []string{"", "pids", "memory", "unified"} {
			os.Remove("/sys/fs/cgroup/" + h + "/" + l.Parent)
		}
	})
}

// The command's ExitError says which limit stopped it: a fork refused at
// --pids-limit, or a process the kernel killed at --memory.
func TestLimitsStopTheCommand(t *testing.T) {
	h := newHostTools(t)
	pids := cgroup.Limits{PidsLimit: 8, Parent: "gantry-sandbox-test"}
	limitsHere(t, pids)
	_, stderr, _, err := h.runSpec(t, Spec{Args: []string{"/bin/bash", "-c", "for i in $(seq 20); do sleep 5 & done; echo all started"}, Limits: pids})
	var ee *ExitError
	if !errors.As(err, &ee) || ee.OOM || ee.Limit != "the pids limit (8) was reached" {
		t.Errorf("20 sleeps at --pids-limit 8 gave %v (%+v)\n%s", err, ee, stderr)
	}
	mem := cgroup.Limits{Memory: 32 << 20, MemorySwap: 32 << 20, Parent: "gantry-sandbox-test"}
	_, stderr, _, err = h.runSpec(t, Spec{Args: []string{"/bin/bash", "-c", "head -c 100M /dev/zero | tail > /dev/null"}, Limits: mem})
	if !errors.As(err, &ee) || !ee.OOM || ee.Limit != "out of memory (limit 32 MiB)" || !strings.Contains(err.Error(), "killed: out of memory") {
		t.Errorf("100 MiB at --memory 32m gave %v (%+v)\n%s", err, ee, stderr)
	}
	// No limit: no cgroup, the same command runs.
	if _, stderr, _, err := h.runSpec(t, Spec{Args: []string{"/bin/bash", "-c", "head -c 100M /dev/zero | tail > /dev/null"}}); err != nil {
		t.Errorf("100 MiB without a limit: %v\n%s", err, stderr)
	}
}
