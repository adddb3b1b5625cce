// Package progress reports the transfer of blobs (pull, push, save, load) and
// the steps of a build to a person or a script: a live view on a terminal,
// plain lines in CI, JSON lines for programs, or nothing at all.
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"

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

	// Step starts build step id, named name ("[build 2/4] RUN make"). The id
	// is printed before each line of the step, so keep it short: "#3". A
	// step ends with StepDone, or with Fail(id, err).
	Step(id, name string)
	// Log is one line of step id's output (a RUN command's standard output
	// and error), without its newline. LogWriter makes the lines of a stream.
	Log(id, line string)
	// StepDone ends step id; cached says its result came from the cache.
	StepDone(id string, cached bool)

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
				return newTTY(w, terminalSize(w)), nil
			}
		}
		return newPlain(w), nil
	case ModeTTY:
		return newTTY(w, terminalSize(w)), nil
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
func (nop) Step(string, string)         {}
func (nop) Log(string, string)          {}
func (nop) StepDone(string, bool)       {}
func (nop) Close()                      {}

// shortID shortens a digest for people: sha256:0123456789ab.
func shortID(id string) string {
	if i := strings.IndexByte(id, ':'); i >= 0 && len(id) > i+13 {
		return id[i+1 : i+13]
	}
	return id
}

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
