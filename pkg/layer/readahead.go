package layer

import (
	"crypto/sha256"
	"fmt"
	"io"
	"runtime"
	"sync"
)

// Small files are read on several goroutines ahead of the tar writer, which
// takes them one at a time, in order. From a cold page cache each small
// file is a disk wait, and the waits overlap only when several reads are
// under way: 40,000 files of 0.1-4 KiB from a dropped cache took 4.7-5.7 s
// read one at a time and 2.8-3.3 s with 8-16 readers (this 2-core VM, Dec
// 2026). Their content hashes are taken there too, on all cores. Larger
// files are read by the writer itself, as the kernel's read-ahead serves a
// long sequential read well.
const (
	readAheadMax     = 128 << 10 // largest file read ahead, whole
	readAheadWindow  = 128       // files read ahead at most: 16 MiB at worst
	readAheadReaders = 8         // at least; more with more cores
)

// fileRead is a file read ahead: its bytes, their sha256 when asked for,
// or why it could not be read as collected.
type fileRead struct {
	data []byte
	sum  []byte
	err  error
}

// readAhead reads the small regular files among entries ahead of their
// turn. The writer takes entry i with take(i) (nil: read it yourself) and
// calls stop when it is done, or gives up: no reader outlives stop.
type readAhead struct {
	slots  []chan fileRead // by entry index; nil for files the writer reads
	window chan struct{}   // a token per file read and not taken yet
	free   chan []byte     // buffers of readAheadMax bytes the writer is done with
	done   chan struct{}
	wg     sync.WaitGroup
}

func startReadAhead(entries []Entry, hash bool) *readAhead {
	r := &readAhead{
		slots:  make([]chan fileRead, len(entries)),
		window: make(chan struct{}, readAheadWindow),
		free:   make(chan []byte, readAheadWindow),
		done:   make(chan struct{}),
	}
	n := 0
	for i, e := range entries {
		if e.Mode.IsRegular() && !e.HardLink && e.Size <= readAheadMax {
			r.slots[i] = make(chan fileRead, 1)
			n++
		}
	}
	if n < 2 {
		clear(r.slots) // nothing to overlap: the writer reads them all
		return r
	}
	jobs := make(chan int)
	readers := min(max(runtime.GOMAXPROCS(0), readAheadReaders), n)
	r.wg.Add(readers + 1)
	for range readers {
		go func() {
			defer r.wg.Done()
			for i := range jobs {
				r.slots[i] <- readWhole(entries[i], hash, r.buffer())
			}
		}()
	}
	go func() {
		defer r.wg.Done()
		defer close(jobs)
		for i := range entries {
			if r.slots[i] == nil {
				continue
			}
			select {
			case r.window <- struct{}{}:
			case <-r.done:
				return
			}
			jobs <- i
		}
	}()
	return r
}

// take is entry i read ahead, or nil when the writer reads it itself.
func (r *readAhead) take(i int) *fileRead {
	if r.slots[i] == nil {
		return nil
	}
	f := <-r.slots[i]
	<-r.window
	return &f
}

// buffer is a buffer of readAheadMax bytes: one the writer is done with,
// or a new one (no more than the window's, as each is a file read ahead).
// Reused, they are not zeroed and collected again for every small file.
func (r *readAhead) buffer() []byte {
	select {
	case b := <-r.free:
		return b
	default:
		return make([]byte, readAheadMax)
	}
}

// recycle takes back the buffer of a file read ahead, once written.
func (r *readAhead) recycle(f *fileRead) {
	if f == nil || f.data == nil {
		return
	}
	select {
	case r.free <- f.data[:readAheadMax]:
	default:
	}
}

// stop ends the reading ahead and waits for the readers: at most a window
// of small files is still read.
func (r *readAhead) stop() {
	close(r.done)
	r.wg.Wait()
}

// readWhole reads e's file into buf with the checks copyFile makes.
func readWhole(e Entry, hash bool, buf []byte) fileRead {
	f, err := openListed(e)
	if err != nil {
		return fileRead{err: err}
	}
	defer f.Close()
	data := buf[:e.Size]
	n, err := io.ReadFull(f, data)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF { // short: checkStable says it changed
		return fileRead{err: fmt.Errorf("layer: reading %s: %w", e.Source, err)}
	}
	if err := checkStable(f, e, int64(n)); err != nil {
		return fileRead{err: err}
	}
	r := fileRead{data: data}
	if hash {
		s := sha256.Sum256(data)
		r.sum = s[:]
	}
	return r
}
