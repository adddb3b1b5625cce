package cgroup

import (
	"strings"
	"testing"
)

// Sizes read as docker's --memory reads them (go-units' RAMInBytes):
// binary multiples, b/k/m/g with an optional "b" or "ib".
func TestParseMemory(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
	}{
		{"512m", 512 << 20}, {"1g", 1 << 30}, {"1G", 1 << 30}, {"64MiB", 64 << 20},
		{"6291456", 6 << 20}, {"100k", 100 << 10}, {"10b", 10}, {"1.5g", 3 << 29},
	} {
		got, err := ParseMemory("--memory", c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseMemory(%q) = %d, %v; want %d", c.in, got, err, c.want)
		}
	}
	for _, in := range []string{"", "lots", "-1", "12x", "-5m"} {
		if _, err := ParseMemory("--memory", in); err == nil || !strings.Contains(err.Error(), "--memory") {
			t.Errorf("ParseMemory(%q): err %v, want an error naming the flag", in, err)
		}
	}
}

// --memory-swap takes -1 (unlimited swap) besides sizes, as docker's.
func TestParseMemorySwap(t *testing.T) {
	if v, err := ParseMemorySwap("-1"); err != nil || v != -1 {
		t.Errorf("ParseMemorySwap(-1) = %d, %v", v, err)
	}
	if v, err := ParseMemorySwap("1g"); err != nil || v != 1<<30 {
		t.Errorf("ParseMemorySwap(1g) = %d, %v", v, err)
	}
	if _, err := ParseMemorySwap("-2"); err == nil {
		t.Error("ParseMemorySwap(-2) was accepted")
	}
}

// Validate refuses what dockerd refuses, in its words.
func TestValidate(t *testing.T) {
	for _, c := range []struct {
		l    Limits
		want string // "" valid
	}{
		{Limits{}, ""},
		{Limits{Memory: 64 << 20}, ""},
		{Limits{Memory: 6 << 20}, ""},
		{Limits{Memory: 6<<20 - 1}, "Minimum memory limit allowed is 6MB"},
		{Limits{Memory: 64 << 20, MemorySwap: 32 << 20}, "Minimum memoryswap limit should be larger than memory limit"},
		{Limits{Memory: 64 << 20, MemorySwap: 64 << 20}, ""},
		{Limits{Memory: 64 << 20, MemorySwap: -1}, ""},
		{Limits{MemorySwap: 1 << 30}, "You should always set the Memory limit when using Memoryswap limit"},
		{Limits{PidsLimit: 50}, ""},
		{Limits{PidsLimit: -1}, ""},
		{Limits{Parent: "ci/jobs"}, ""},
		{Limits{Parent: "/ci/jobs/"}, ""},
		{Limits{Parent: "../escape"}, "--cgroup-parent"},
		{Limits{Parent: "a/../../b"}, "--cgroup-parent"},
	} {
		err := c.l.Validate()
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%+v: Validate() = %v, want %q", c.l, err, c.want)
		}
	}
}

// Any is what decides whether a step gets a cgroup at all.
func TestAny(t *testing.T) {
	if (Limits{}).Any() || (Limits{PidsLimit: -1}).Any() || (Limits{PidsLimit: 0}).Any() {
		t.Error("no limit counted as one")
	}
	for _, l := range []Limits{{Memory: 6 << 20}, {PidsLimit: 1}, {Parent: "x"}} {
		if !l.Any() {
			t.Errorf("%+v: Any() = false", l)
		}
	}
}

// The swap values written: docker's default is as much swap as memory.
func TestSwapTotal(t *testing.T) {
	for _, c := range []struct {
		l    Limits
		want int64
	}{
		{Limits{}, 0},
		{Limits{Memory: 64 << 20}, 128 << 20},
		{Limits{Memory: 64 << 20, MemorySwap: 100 << 20}, 100 << 20},
		{Limits{Memory: 64 << 20, MemorySwap: -1}, -1},
	} {
		if got := c.l.swapTotal(); got != c.want {
			t.Errorf("%+v: swapTotal = %d, want %d", c.l, got, c.want)
		}
	}
}

func TestSizeString(t *testing.T) {
	for in, want := range map[int64]string{64 << 20: "64 MiB", 1 << 30: "1 GiB", 1536 << 20: "1.5 GiB", 6291457: "6 MiB"} {
		if got := Size(in); got != want {
			t.Errorf("Size(%d) = %q, want %q", in, got, want)
		}
	}
}
