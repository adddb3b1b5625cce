package dockerfile

import (
	"strings"
	"sync"
)

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
