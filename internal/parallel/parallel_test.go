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
