package progress

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// plain writes one line per event, no rewriting: logs in CI stay readable.
// Steps print as BuildKit's plain progress does: "#3 [build] RUN make",
// "#3 <output line>", "#3 DONE 1.2s".
type plain struct {
	mu     sync.Mutex
	w      io.Writer
	names  map[string]string
	starts map[string]time.Time // steps running
}

func newPlain(w io.Writer) *plain {
	return &plain{w: w, names: map[string]string{}, starts: map[string]time.Time{}}
}

func (p *plain) Start(id, name string, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.names[id] = name
	fmt.Fprintf(p.w, "%s: %s started (%s)\n", shortID(id), name, humanSize(total))
}

func (p *plain) Add(string, int64) {}

func (p *plain) Done(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "%s: %s done\n", shortID(id), p.names[id])
}

func (p *plain) Skip(id, name, reason string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "%s: %s skipped: %s\n", shortID(id), name, reason)
}

func (p *plain) Fail(id string, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, step := p.starts[id]; step {
		delete(p.starts, id)
		fmt.Fprintf(p.w, "%s ERROR: %s\n", id, firstLine(err.Error()))
		return
	}
	fmt.Fprintf(p.w, "%s: %s failed: %s\n", shortID(id), p.names[id], firstLine(err.Error()))
}

func (p *plain) Printf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, strings.TrimSuffix(format, "\n")+"\n", args...)
}

func (p *plain) Step(id, name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.starts[id] = time.Now()
	fmt.Fprintf(p.w, "%s %s\n", id, name)
}

func (p *plain) Log(id, line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "%s %s\n", id, line)
}

func (p *plain) StepDone(id string, cached bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	start, ok := p.starts[id]
	delete(p.starts, id)
	switch {
	case cached:
		fmt.Fprintf(p.w, "%s CACHED\n", id)
	case ok:
		fmt.Fprintf(p.w, "%s DONE %.1fs\n", id, time.Since(start).Seconds())
	default:
		fmt.Fprintf(p.w, "%s DONE\n", id)
	}
}

func (p *plain) Close() {}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return strings.TrimRight(s[:i], "\r") + " …"
	}
	return s
}
