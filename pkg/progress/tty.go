package progress

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/mattn/go-runewidth"
	"golang.org/x/term"
)

// The tty view, after BuildKit's: a live area at the bottom of the terminal,
// redrawn in place, holds the running steps with their last lines and the
// blobs on the move. What has ended is written once above it and never
// touched again: a step's header, all its output lines and DONE (or CACHED)
// when it ends well; a blob's "done" line; status lines. The output of a
// step that failed is printed whole at Close, boxed as BuildKit does, after
// everything else.
const (
	tailLines   = 6 // output lines shown under a running step
	refresh     = 100 * time.Millisecond
	maxStepKept = 1 << 20 // bytes of output a running step keeps before writing them out early
	barWidth    = 20
)

type tty struct {
	mu       sync.Mutex
	w        io.Writer
	size     func() (width, height int)
	live     int // lines of the live area on the screen now
	steps    []*ttyStep
	blobs    []*ttyBlob
	failed   []*ttyStep
	names    map[string]string // every blob and step seen, by id
	closed   bool
	stop     chan struct{}
	stopped  chan struct{}
	frameBuf bytes.Buffer
}

type ttyStep struct {
	id, name string
	start    time.Time
	lines    []string // output not yet written above
	kept     int      // bytes in lines
	shown    bool     // the header was written above already
}

type ttyBlob struct {
	id, name       string
	total, current int64
	start          time.Time
}

// newTTY starts the view; size tells the terminal's columns and rows.
func newTTY(w io.Writer, size func() (int, int)) *tty {
	t := &tty{w: w, size: size, names: map[string]string{}, stop: make(chan struct{}), stopped: make(chan struct{})}
	go t.tick()
	return t
}

// terminalSize reads w's size at each frame (the window may be resized);
// what is not a terminal is 80×24.
func terminalSize(w io.Writer) func() (int, int) {
	return func() (int, int) {
		if f, ok := w.(*os.File); ok {
			if width, height, err := term.GetSize(int(f.Fd())); err == nil && width > 0 && height > 0 {
				return width, height
			}
		}
		return 80, 24
	}
}

func (t *tty) tick() {
	defer close(t.stopped)
	tk := time.NewTicker(refresh)
	defer tk.Stop()
	for {
		select {
		case <-t.stop:
			return
		case <-tk.C:
			t.mu.Lock()
			if !t.closed && len(t.steps)+len(t.blobs) > 0 {
				t.frame(nil) // elapsed times, rates and tails move
			}
			t.mu.Unlock()
		}
	}
}

// frame writes done (lines that are final) over the live area and draws
// the live area again below them, in one write. Each line is written over
// the old one and cleared to its end (ESC[K); old lines left below are
// cleared one by one. Erasing the whole area at once (ESC[J) is avoided:
// tmux, at the top of a screen, keeps what it erases in the scrollback.
// Callers hold mu.
func (t *tty) frame(done []string) {
	width, height := t.size()
	b := &t.frameBuf
	b.Reset()
	if t.live > 0 {
		fmt.Fprintf(b, "\x1b[%dA", t.live)
	}
	b.WriteByte('\r')
	rows := 0
	for _, l := range done {
		// Wrapping is fine here: these lines are never redrawn.
		l = visible(l)
		b.WriteString(l)
		b.WriteString("\x1b[K\n")
		rows += max(1, (runewidth.StringWidth(l)+width-1)/width)
	}
	live := t.liveLines(width, height)
	for _, l := range live {
		b.WriteString(l)
		b.WriteString("\x1b[K\n")
	}
	if left := t.live - rows - len(live); left > 0 {
		b.WriteString(strings.Repeat("\x1b[2K\n", left))
		fmt.Fprintf(b, "\x1b[%dA", left)
	}
	t.live = len(live)
	t.w.Write(b.Bytes())
}

// liveLines is the live area: one line per running step and moving blob,
// then the steps' last output lines as room allows. Each line fits the
// width (a wrapped line would throw the next redraw off), and the area fits
// the height (the cursor cannot go back up into the scrollback).
func (t *tty) liveLines(width, height int) []string {
	if t.closed {
		return nil
	}
	room := height - 2
	if room < 1 {
		room = 1
	}
	heads := len(t.steps) + len(t.blobs)
	tail := 0
	if len(t.steps) > 0 && room > heads {
		tail = min(tailLines, (room-heads)/len(t.steps))
	}
	var out []string
	now := time.Now()
	for _, s := range t.steps {
		out = append(out, rightAlign("=> "+s.id+" "+s.name, fmt.Sprintf("%.1fs", now.Sub(s.start).Seconds()), width))
		from := max(0, len(s.lines)-tail)
		for _, l := range s.lines[from:] {
			out = append(out, fit("=> => # "+visible(l), width))
		}
	}
	for _, b := range t.blobs {
		out = append(out, fit(blobLine(b, now), width))
	}
	if len(out) > room {
		more := len(out) - room + 1
		out = append(out[:room-1], fit(fmt.Sprintf("=> … %d more lines", more), width))
	}
	return out
}

func blobLine(b *ttyBlob, now time.Time) string {
	s := "=> " + shortID(b.id) + " " + b.name + " "
	if b.total > 0 {
		n := int(min(b.current, b.total) * barWidth / b.total)
		s += "[" + strings.Repeat("=", n) + strings.Repeat(" ", barWidth-n) + "] "
		s += humanSize(b.current) + " / " + humanSize(b.total)
	} else {
		s += humanSize(b.current)
	}
	if secs := now.Sub(b.start).Seconds(); secs > 0.2 {
		s += "  " + humanSize(int64(float64(b.current)/secs)) + "/s"
	}
	return s
}

// rightAlign puts right at the end of a line of width, cutting left.
func rightAlign(left, right string, width int) string {
	avail := width - 1 - runewidth.StringWidth(right) - 1
	if avail < 1 {
		return fit(left, width)
	}
	left = runewidth.Truncate(visible(left), avail, "…")
	return left + strings.Repeat(" ", avail-runewidth.StringWidth(left)+1) + right
}

// fit cuts s to width-1 columns: a line filling the last column wraps on
// some terminals.
func fit(s string, width int) string {
	return runewidth.Truncate(s, max(width-1, 1), "…")
}

// visible is what a terminal would show of a line of a command's output,
// made safe to redraw: the text after its last carriage return (progress
// meters rewrite their line), tabs expanded, escape sequences and other
// control characters dropped (they would move the cursor under the view).
func visible(s string) string {
	s = strings.TrimRight(s, "\r")
	if i := strings.LastIndexByte(s, '\r'); i >= 0 {
		s = s[i+1:]
	}
	var b strings.Builder
	col := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\t':
			n := 8 - col%8
			b.WriteString(strings.Repeat(" ", n))
			col += n
		case c == 0x1b:
			i = skipEscape(s, i)
		case c < 0x20 || c == 0x7f:
		default:
			b.WriteByte(c)
			if c < 0x80 || c >= 0xc0 {
				col++
			}
		}
	}
	return strings.ToValidUTF8(b.String(), "?")
}

// skipEscape returns the index of the last byte of the escape sequence at
// s[i]: CSI (ESC [ … final) and OSC (ESC ] … BEL or ST); others are two bytes.
func skipEscape(s string, i int) int {
	if i+1 >= len(s) {
		return i
	}
	switch s[i+1] {
	case '[':
		for j := i + 2; j < len(s); j++ {
			if s[j] >= 0x40 && s[j] <= 0x7e {
				return j
			}
		}
		return len(s) - 1
	case ']':
		for j := i + 2; j < len(s); j++ {
			if s[j] == 0x07 {
				return j
			}
			if s[j] == 0x1b && j+1 < len(s) && s[j+1] == '\\' {
				return j + 1
			}
		}
		return len(s) - 1
	}
	return i + 1
}

func (t *tty) Start(id, name string, total int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return
	}
	t.names[id] = name
	t.blobs = append(t.blobs, &ttyBlob{id: id, name: name, total: total, start: time.Now()})
	t.frame(nil)
}

func (t *tty) Add(id string, n int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if b := t.blob(id); b != nil {
		b.current += n
	}
}

func (t *tty) blob(id string) *ttyBlob {
	for _, b := range t.blobs {
		if b.id == id {
			return b
		}
	}
	return nil
}

func (t *tty) removeBlob(id string) *ttyBlob {
	for i, b := range t.blobs {
		if b.id == id {
			t.blobs = append(t.blobs[:i], t.blobs[i+1:]...)
			return b
		}
	}
	return nil
}

func (t *tty) Done(id string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return
	}
	b := t.removeBlob(id)
	if b == nil {
		return
	}
	t.frame([]string{fmt.Sprintf("%s %s: done (%s in %.1fs)", shortID(id), b.name, humanSize(b.current), time.Since(b.start).Seconds())})
}

func (t *tty) Skip(id, name, reason string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return
	}
	t.removeBlob(id)
	t.frame([]string{fmt.Sprintf("%s %s: %s", shortID(id), name, reason)})
}

func (t *tty) Fail(id string, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return
	}
	if s := t.removeStep(id); s != nil {
		t.failed = append(t.failed, s)
		var done []string
		if !s.shown {
			done = append(done, s.id+" "+s.name)
		}
		t.frame(append(done, s.id+" ERROR: "+firstLine(err.Error())))
		return
	}
	t.removeBlob(id)
	t.frame([]string{fmt.Sprintf("%s %s: failed: %s", shortID(id), t.names[id], firstLine(err.Error()))})
}

func (t *tty) Printf(format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return
	}
	t.frame(strings.Split(strings.TrimSuffix(fmt.Sprintf(format, args...), "\n"), "\n"))
}

func (t *tty) Step(id, name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed || t.step(id) != nil {
		return
	}
	t.names[id] = name
	t.steps = append(t.steps, &ttyStep{id: id, name: name, start: time.Now()})
	t.frame(nil)
}

func (t *tty) step(id string) *ttyStep {
	for _, s := range t.steps {
		if s.id == id {
			return s
		}
	}
	return nil
}

func (t *tty) removeStep(id string) *ttyStep {
	for i, s := range t.steps {
		if s.id == id {
			t.steps = append(t.steps[:i], t.steps[i+1:]...)
			return s
		}
	}
	return nil
}

func (t *tty) Log(id, line string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return
	}
	s := t.step(id)
	if s == nil { // a line of no running step: written as it comes
		t.frame([]string{id + " " + visible(line)})
		return
	}
	s.lines = append(s.lines, line)
	s.kept += len(line)
	if s.kept > maxStepKept {
		// A step that prints without end has its output written out as it
		// goes: memory stays bounded, and each line is still written once.
		t.frame(s.flush())
	}
}

// flush is the step's header (once) and the output it kept, as lines to
// write above; it keeps the last lines for the live tail.
func (s *ttyStep) flush() []string {
	var out []string
	if !s.shown {
		out = append(out, s.id+" "+s.name)
		s.shown = true
	}
	for _, l := range s.lines {
		out = append(out, s.id+" "+visible(l))
	}
	s.lines, s.kept = nil, 0
	return out
}

func (t *tty) StepDone(id string, cached bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return
	}
	s := t.removeStep(id)
	if s == nil {
		return
	}
	end := fmt.Sprintf("%s DONE %.1fs", id, time.Since(s.start).Seconds())
	if cached {
		end = id + " CACHED"
	}
	t.frame(append(s.flush(), end))
}

func (t *tty) Close() {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return
	}
	// What still runs was cut short (an error elsewhere, ^C): its output is
	// written out too.
	var done []string
	for _, s := range t.steps {
		done = append(append(done, s.flush()...), s.id+" CANCELED")
	}
	for _, b := range t.blobs {
		done = append(done, fmt.Sprintf("%s %s: stopped at %s", shortID(b.id), b.name, humanSize(b.current)))
	}
	for _, s := range t.failed {
		done = append(done, "------", " > "+s.id+" "+s.name+":")
		for _, l := range s.lines {
			done = append(done, visible(l))
		}
		done = append(done, "------")
	}
	t.steps, t.blobs, t.failed = nil, nil, nil
	t.closed = true
	t.frame(done)
	t.mu.Unlock()
	close(t.stop)
	<-t.stopped
}
