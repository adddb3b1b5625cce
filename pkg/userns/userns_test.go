package userns

import (
	"io"
	"os"
	"strings"
	"testing"
)

func TestParseRange(t *testing.T) {
	const file = "alice:100000:65536\n# comment\nbob:bad:1\n1001:200000:1000\ncarol:300000:0\n"
	cases := []struct {
		name string
		id   int
		want Range
		ok   bool
	}{
		{"alice", 1000, Range{100000, 65536}, true},
		{"dave", 1001, Range{200000, 1000}, true}, // by numeric id
		{"bob", 1002, Range{}, false},             // malformed start
		{"carol", 1003, Range{}, false},           // empty range
		{"erin", 1004, Range{}, false},
	}
	for _, c := range cases {
		got, ok := parseRange(strings.NewReader(file), c.name, c.id)
		if ok != c.ok || got != c.want {
			t.Errorf("%s/%d: got %v %v, want %v %v", c.name, c.id, got, ok, c.want, c.ok)
		}
	}
}

func TestWithoutState(t *testing.T) {
	got := withoutState([]string{"A=1", stateEnv + "=wait", "B=2"})
	if strings.Join(got, ",") != "A=1,B=2" {
		t.Errorf("got %v", got)
	}
}

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
