package userns

import (
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
