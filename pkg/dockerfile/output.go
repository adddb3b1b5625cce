package dockerfile

import (
	"bytes"
	"io"
	"strings"
	"sync"
)

// prefixWriter prefixes each line of RUN output with its step, as docker
// build's plain progress does.
type prefixWriter struct {
	mu     sync.Mutex
	w      io.Writer
	prefix string
	mid    bool
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var buf bytes.Buffer
	for _, c := range b {
		if !p.mid {
			buf.WriteString(p.prefix)
			p.mid = true
		}
		buf.WriteByte(c)
		if c == '\n' {
			p.mid = false
		}
	}
	if _, err := p.w.Write(buf.Bytes()); err != nil {
		return 0, err
	}
	return len(b), nil
}

// lastLines keeps the end of a command's output for its error message.
type lastLines struct {
	mu    sync.Mutex
	max   int
	lines []string
	cur   []byte
}

func (l *lastLines) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range b {
		if c == '\n' {
			l.lines = append(l.lines, string(l.cur))
			l.cur = l.cur[:0]
			if len(l.lines) > l.max {
				l.lines = l.lines[1:]
			}
			continue
		}
		l.cur = append(l.cur, c)
	}
	return len(b), nil
}

func (l *lastLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	lines := l.lines
	if len(l.cur) > 0 {
		lines = append(lines, string(l.cur))
	}
	return "  " + strings.Join(lines, "\n  ")
}
