// Package progress reports the transfer of blobs (pull, push, save, load) to a
// person or a script: bars on a terminal, plain lines in CI, JSON lines for
// programs, or nothing at all.
package progress

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"
)

// Reporter receives the life of each blob transfer. Implementations are safe
// for concurrent use: layers move in parallel.
//
// id is a stable key for one transfer (normally the blob digest); name is what a
// person reads ("layer 3/5", "config"); total is the size in bytes, or -1 when
// unknown.
type Reporter interface {
	Start(id, name string, total int64)
	// Add reports n more bytes moved for id.
	Add(id string, n int64)
	// Done marks id finished successfully.
	Done(id string)
	// Skip marks id as not transferred, with the reason ("exists", "mounted from
	// library/busybox", "already in store").
	Skip(id, name, reason string)
	// Fail marks id as failed.
	Fail(id string, err error)
	// Printf writes a free-form status line ("Pulled docker.io/library/busybox:latest").
	Printf(format string, args ...any)
	// Close flushes and stops any rendering; further calls are ignored.
	Close()
}

// Modes accepted by New.
const (
	ModeAuto  = "auto"
	ModeTTY   = "tty"
	ModePlain = "plain"
	ModeJSON  = "json"
	ModeQuiet = "quiet"
)

// New returns the Reporter for mode, writing to w. "auto" picks bars when w
// is a terminal and plain lines otherwise.
func New(mode string, w io.Writer) (Reporter, error) {
	switch mode {
	case ModeAuto, "":
		// A terminal of width 0 (a pty nobody sized, as under script(1))
		// cannot show bars: plain lines then.
		if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			if width, _, err := term.GetSize(int(f.Fd())); err == nil && width > 0 {
				return newBars(w), nil
			}
		}
		return newPlain(w), nil
	case ModeTTY:
		return newBars(w), nil
	case ModePlain:
		return newPlain(w), nil
	case ModeJSON:
		return newJSON(w), nil
	case ModeQuiet:
		return Nop(), nil
	}
	return nil, fmt.Errorf("unknown progress mode %q: use auto, tty, plain, json or quiet", mode)
}

// Nop returns a Reporter that reports nothing.
func Nop() Reporter { return nop{} }

type nop struct{}

func (nop) Start(string, string, int64) {}
func (nop) Add(string, int64)           {}
func (nop) Done(string)                 {}
func (nop) Skip(string, string, string) {}
func (nop) Fail(string, error)          {}
func (nop) Printf(string, ...any)       {}
func (nop) Close()                      {}

// shortID shortens a digest for people: sha256:0123456789ab.
func shortID(id string) string {
	if i := strings.IndexByte(id, ':'); i >= 0 && len(id) > i+13 {
		return id[i+1 : i+13]
	}
	return id
}

// plain writes one line per event, no rewriting: logs in CI stay readable.
type plain struct {
	mu    sync.Mutex
	w     io.Writer
	names map[string]string
	sizes map[string]int64
}

func newPlain(w io.Writer) *plain {
	return &plain{w: w, names: map[string]string{}, sizes: map[string]int64{}}
}

func (p *plain) Start(id, name string, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.names[id], p.sizes[id] = name, total
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
	fmt.Fprintf(p.w, "%s: %s failed: %v\n", shortID(id), p.names[id], err)
}

func (p *plain) Printf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, strings.TrimSuffix(format, "\n")+"\n", args...)
}

func (p *plain) Close() {}

// Event is one JSON line of --progress json.
type Event struct {
	Time    time.Time `json:"time"`
	Event   string    `json:"event"` // start, progress, done, skip, fail, message
	ID      string    `json:"id,omitempty"`
	Name    string    `json:"name,omitempty"`
	Total   int64     `json:"total,omitempty"`
	Current int64     `json:"current,omitempty"`
	Reason  string    `json:"reason,omitempty"`
	Error   string    `json:"error,omitempty"`
	Message string    `json:"message,omitempty"`
}

// jsonLines emits Events. Byte counts are throttled to one event per blob per
// 100 ms so a fast pull does not flood the reader.
type jsonLines struct {
	mu      sync.Mutex
	enc     *json.Encoder
	current map[string]int64
	last    map[string]time.Time
	names   map[string]string
}

func newJSON(w io.Writer) *jsonLines {
	return &jsonLines{enc: json.NewEncoder(w), current: map[string]int64{}, last: map[string]time.Time{}, names: map[string]string{}}
}

func (j *jsonLines) emit(e Event) {
	e.Time = time.Now().UTC()
	_ = j.enc.Encode(e)
}

func (j *jsonLines) Start(id, name string, total int64) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.names[id] = name
	j.emit(Event{Event: "start", ID: id, Name: name, Total: total})
}

func (j *jsonLines) Add(id string, n int64) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.current[id] += n
	if now := time.Now(); now.Sub(j.last[id]) >= 100*time.Millisecond {
		j.last[id] = now
		j.emit(Event{Event: "progress", ID: id, Name: j.names[id], Current: j.current[id]})
	}
}

func (j *jsonLines) Done(id string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.emit(Event{Event: "done", ID: id, Name: j.names[id], Current: j.current[id]})
}

func (j *jsonLines) Skip(id, name, reason string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.emit(Event{Event: "skip", ID: id, Name: name, Reason: reason})
}

func (j *jsonLines) Fail(id string, err error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.emit(Event{Event: "fail", ID: id, Name: j.names[id], Error: err.Error()})
}

func (j *jsonLines) Printf(format string, args ...any) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.emit(Event{Event: "message", Message: strings.TrimSuffix(fmt.Sprintf(format, args...), "\n")})
}

func (j *jsonLines) Close() {}

func humanSize(n int64) string {
	if n < 0 {
		return "size unknown"
	}
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// WithoutSkips passes everything to r but the blobs it would skip: a build
// storing the layers it has just made has nothing to say about them.
func WithoutSkips(r Reporter) Reporter { return withoutSkips{r} }

type withoutSkips struct{ Reporter }

func (withoutSkips) Skip(id, name, reason string) {}
