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
	// A file is read into a buffer of the smallest power of two from 4 KiB
	// that holds it, reused for files of the same class: what is held
	// follows the files' sizes (a source tree's average 12 KiB: 1.5 MiB),
	// not 128 times the largest (fresh memory is not free: 12 µs a page
	// on the VM these figures come from).
	readAheadMinBuf  = 4 << 10
	readAheadClasses = 6 // 4 KiB … 128 KiB
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
	ahead []bool // by entry index: read ahead (else the writer reads it)
	// ring holds the files read ahead by their turn among those read
	// ahead, modulo the window: as at most a window of them is read and
	// not taken, and the writer takes them in order, a file's slot is
	// empty when it is read (a channel per file was 2 MB for 12,800).
	ring   []chan fileRead
	taken  int                           // files read ahead the writer has taken
	window chan struct{}                 // a token per file read and not taken yet
	free   [readAheadClasses]chan []byte // by size class: buffers the writer is done with
	done   chan struct{}
	wg     sync.WaitGroup
}

func startReadAhead(entries []Entry, hash bool) *readAhead {
	r := &readAhead{
		ahead:  make([]bool, len(entries)),
		window: make(chan struct{}, readAheadWindow),
		done:   make(chan struct{}),
	}
	for c := range r.free {
		r.free[c] = make(chan []byte, readAheadWindow)
	}
	n := 0
	for i, e := range entries {
		if e.Mode.IsRegular() && !e.HardLink && e.Size <= readAheadMax {
			r.ahead[i] = true
			n++
		}
	}
	if n < 2 {
		clear(r.ahead) // nothing to overlap: the writer reads them all
		return r
	}
	r.ring = make([]chan fileRead, min(readAheadWindow, n))
	for k := range r.ring {
		r.ring[k] = make(chan fileRead, 1)
	}
	type job struct{ entry, turn int }
	jobs := make(chan job)
	readers := min(max(runtime.GOMAXPROCS(0), readAheadReaders), n)
	r.wg.Add(readers + 1)
	for range readers {
		go func() {
			defer r.wg.Done()
			for j := range jobs {
				e := entries[j.entry]
				r.ring[j.turn%len(r.ring)] <- readWhole(e, hash, r.buffer(e.Size))
			}
		}()
	}
	go func() {
		defer r.wg.Done()
		defer close(jobs)
		turn := 0
		for i := range entries {
			if !r.ahead[i] {
				continue
			}
			select {
			case r.window <- struct{}{}:
			case <-r.done:
				return
			}
			jobs <- job{i, turn}
			turn++
		}
	}()
	return r
}

// take is entry i read ahead, or nil when the writer reads it itself.
func (r *readAhead) take(i int) *fileRead {
	if !r.ahead[i] {
		return nil
	}
	f := <-r.ring[r.taken%len(r.ring)]
	r.taken++
	<-r.window
	return &f
}

// buffer is a buffer for a file of size bytes: one of its class the writer
// is done with, or a new one (no more than the window's per class, as each
// is a file read ahead). Reused, they are not zeroed and collected again
// for every small file.
func (r *readAhead) buffer(size int64) []byte {
	c := bufferClass(size)
	select {
	case b := <-r.free[c]:
		return b
	default:
		return make([]byte, readAheadMinBuf<<c)
	}
}

// bufferClass is the class of the buffer for size bytes: 4 KiB << class.
func bufferClass(size int64) int {
	c := 0
	for int64(readAheadMinBuf)<<c < size {
		c++
	}
	return c
}

// recycle takes back the buffer of a file read ahead, once written.
func (r *readAhead) recycle(f *fileRead) {
	if f == nil || f.data == nil {
		return
	}
	b := f.data[:cap(f.data)]
	select {
	case r.free[bufferClass(int64(len(b)))] <- b:
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
