// Package parallel runs the items of a slice on all cores: per-file system
// calls over a tree (stat, link), where the kernel's work, not Go's, is the
// cost.
package parallel

import (
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
)

// perWorker is the fewest items worth a goroutine of their own.
const perWorker = 256

// chunk is how many neighbouring items a goroutine takes at a time: few
// enough to share out uneven work, enough that two goroutines seldom write
// results on the same cache line (items next to each other usually are).
const chunk = 64

// Each calls fn(i) for every i in [0, n) on up to GOMAXPROCS goroutines,
// each taking the next chunk of items not yet taken. A goroutine stops at
// its first error; the errors are joined.
func Each(n int, fn func(i int) error) error {
	return ranges(n, chunk, func(start, end int) error {
		for i := start; i < end; i++ {
			if err := fn(i); err != nil {
				return err
			}
		}
		return nil
	})
}

// Ranges calls fn(start, end) for each range of size neighbouring items of
// [0, n) (the last one may be shorter) on up to GOMAXPROCS goroutines: work
// whose result must not depend on how many cores share it (a hash of each
// range) is split at the same places on every machine.
func Ranges(n, size int, fn func(start, end int)) {
	ranges(n, size, func(start, end int) error { fn(start, end); return nil })
}

// ranges is Each and Ranges: each goroutine takes the next range of size
// items not yet taken and stops at its first error; the errors are joined.
func ranges(n, size int, fn func(start, end int) error) error {
	workers := min(runtime.GOMAXPROCS(0), n/perWorker+1, (n+size-1)/size)
	errs := make([]error, workers)
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				start := int(next.Add(1)-1) * size
				if start >= n {
					return
				}
				if err := fn(start, min(start+size, n)); err != nil {
					errs[w] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
