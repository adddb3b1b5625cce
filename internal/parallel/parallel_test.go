package parallel

import (
	"errors"
	"sync/atomic"
	"testing"
)

// Every item is visited once, and an error reaches the caller.
func TestEach(t *testing.T) {
	for _, n := range []int{0, 1, 255, 10000} {
		seen := make([]atomic.Int32, n)
		if err := Each(n, func(i int) error { seen[i].Add(1); return nil }); err != nil {
			t.Fatal(err)
		}
		for i := range seen {
			if seen[i].Load() != 1 {
				t.Fatalf("n=%d: item %d visited %d times", n, i, seen[i].Load())
			}
		}
	}
	bad := errors.New("bad")
	if err := Each(1000, func(i int) error {
		if i == 777 {
			return bad
		}
		return nil
	}); !errors.Is(err, bad) {
		t.Errorf("the error of item 777: %v", err)
	}
}

// Ranges covers [0, n) once, in ranges of size items starting at multiples
// of size, whatever the number of cores.
func TestRanges(t *testing.T) {
	for _, c := range []struct{ n, size int }{{0, 4}, {1, 4}, {7, 4}, {8, 4}, {10000, 256}, {10001, 1000}} {
		seen := make([]atomic.Int32, c.n)
		Ranges(c.n, c.size, func(start, end int) {
			if start%c.size != 0 || end != min(start+c.size, c.n) {
				t.Errorf("n=%d size=%d: range [%d, %d)", c.n, c.size, start, end)
			}
			for i := start; i < end; i++ {
				seen[i].Add(1)
			}
		})
		for i := range seen {
			if seen[i].Load() != 1 {
				t.Fatalf("n=%d: item %d visited %d times", c.n, i, seen[i].Load())
			}
		}
	}
}
