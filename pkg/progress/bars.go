package progress

import (
	"fmt"
	"io"
	"sync"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
)

// bars draws one mpb bar per blob: name, bytes done of total, rate.
type bars struct {
	mu     sync.Mutex
	p      *mpb.Progress
	bars   map[string]*mpb.Bar
	closed bool
}

func newBars(w io.Writer) *bars {
	// WithAutoRefresh: --progress tty draws even when w is not a terminal
	// (a pager, a log that keeps escape codes).
	return &bars{p: mpb.New(mpb.WithOutput(w), mpb.WithWidth(40), mpb.WithAutoRefresh()), bars: map[string]*mpb.Bar{}}
}

func (b *bars) Start(id, name string, total int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	if total < 0 {
		total = 0
	}
	label := shortID(id) + " " + name
	b.bars[id] = b.p.AddBar(total,
		mpb.PrependDecorators(decor.Name(label, decor.WCSyncSpaceR)),
		mpb.AppendDecorators(
			decor.OnComplete(decor.Counters(decor.SizeB1024(0), "% .1f / % .1f"), "done"),
			decor.OnComplete(decor.AverageSpeed(decor.SizeB1024(0), " % .1f", decor.WCSyncSpace), ""),
		),
	)
}

func (b *bars) bar(id string) *mpb.Bar {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.bars[id]
}

func (b *bars) Add(id string, n int64) {
	if bar := b.bar(id); bar != nil {
		bar.IncrInt64(n)
	}
}

func (b *bars) Done(id string) {
	if bar := b.bar(id); bar != nil {
		bar.SetTotal(-1, true)
	}
}

func (b *bars) Skip(id, name, reason string) {
	b.Printf("%s %s: %s", shortID(id), name, reason)
}

func (b *bars) Fail(id string, err error) {
	if bar := b.bar(id); bar != nil {
		bar.Abort(false)
	}
}

func (b *bars) Printf(format string, args ...any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	// Printing through a bar-less filler keeps the line above the bars.
	msg := fmt.Sprintf(format, args...)
	bar := b.p.New(0, mpb.NopStyle(), mpb.PrependDecorators(decor.Name(msg)))
	bar.SetTotal(-1, true)
}

func (b *bars) Close() {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return
	}
	b.closed = true
	b.mu.Unlock()
	b.p.Wait()
}
