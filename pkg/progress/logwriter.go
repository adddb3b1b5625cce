package progress

import (
	"bytes"
	"io"
	"sync"
)

// maxLogLine bounds a line kept while waiting for its newline: a command
// printing megabytes without one still reaches the reporter, in pieces.
const maxLogLine = 64 << 10

// LogWriter turns a stream (a RUN command's standard output and error) into
// r.Log(id, line) calls, one per line. It is safe for concurrent writes;
// Close reports a last line that had no newline.
func LogWriter(r Reporter, id string) io.WriteCloser {
	return &logWriter{r: r, id: id}
}

type logWriter struct {
	mu  sync.Mutex
	r   Reporter
	id  string
	buf []byte
}

func (l *logWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			l.buf = append(l.buf, p...)
			for len(l.buf) >= maxLogLine {
				l.r.Log(l.id, string(l.buf[:maxLogLine]))
				l.buf = l.buf[maxLogLine:]
			}
			break
		}
		l.buf = append(l.buf, p[:i]...)
		p = p[i+1:]
		l.r.Log(l.id, string(bytes.TrimSuffix(l.buf, []byte("\r"))))
		l.buf = l.buf[:0]
	}
	return n, nil
}

func (l *logWriter) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buf) > 0 {
		l.r.Log(l.id, string(l.buf))
		l.buf = nil
	}
	return nil
}
