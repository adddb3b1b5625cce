//go:build linux

package userns

import (
	"io"
	"os"
	"strings"
	"testing"
)

// The re-executed test binary stands in for gantry: it waits for its maps
// like gantry does, then reports what it is.
func TestMain(m *testing.M) {
	if os.Getenv(stateEnv) == "wait" {
		io.Copy(io.Discard, os.NewFile(3, "sync"))
		b, _ := os.ReadFile("/proc/self/uid_map")
		if len(strings.TrimSpace(string(b))) == 0 {
			os.Exit(3) // released without maps
		}
		os.Exit(7)
	}
	os.Exit(m.Run())
}

// A newuidmap that fails leaves no child running and says which helper
// failed; main then goes on without the namespace.
func TestReexecWhenTheHelperFails(t *testing.T) {
	_, err := reexec(plan{newuidmap: "/bin/false", newgidmap: "/bin/false", uids: Range{100000, 65536}, gids: Range{100000, 65536}})
	if err == nil || !strings.Contains(err.Error(), "/bin/false") {
		t.Fatalf("err = %v, want the failing helper named", err)
	}
}

// With helpers that succeed (here: ones that write nothing), the child is
// released and its exit code comes back.
func TestReexecReturnsTheChildsExitCode(t *testing.T) {
	code, err := reexec(plan{newuidmap: "/bin/true", newgidmap: "/bin/true", uids: Range{100000, 65536}, gids: Range{100000, 65536}})
	if err != nil {
		t.Fatal(err)
	}
	if code != 3 { // /bin/true wrote no maps: the child saw none and said so
		t.Errorf("exit code %d, want 3", code)
	}
}
