// Package parallel runs the items of a slice on all cores: per-file system
// calls over a tree (stat, link), where the kernel's work, not Go's, is the
// cost.
package parallel

import (
	"errors"
	"runtime"
	"sync"
)

// perWorker is the fewest items worth a goroutine of their own.
const perWorker = 256

// Each calls fn(i) for every i in [0, n) on up to GOMAXPROCS goroutines,
// each taking every k-th item. A goroutine stops at its first error; the
// errors are joined.
func Each(n int, fn func(i int) error) error {
	workers := min(runtime.GOMAXPROCS(0), n/perWorker+1)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				if err := fn(i); err != nil {
					errs[w] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
