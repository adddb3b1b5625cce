package main

import (
	"context"
	"errors"
	"io"
	"os"
	"os/signal"
	"sync"

	"golang.org/x/term"

	"github.com/gantry-build/gantry/pkg/container"
	"github.com/gantry-build/gantry/pkg/sandbox"
)

// errNotTTY is docker run's refusal of -it when standard input is not a
// terminal (its exit code is 1, as gantry's errors).
var errNotTTY = errors.New("the input device is not a TTY: -it needs a terminal on standard input; use -i alone to pipe input to the command")

// runStreams is how gantry run connects the command to the caller.
type runStreams struct {
	tty   bool // -t: the command gets a pseudo-terminal of its own
	input bool // -i: what the caller types or pipes reaches the command
	raw   bool // the caller's terminal is raw while the command runs: every key, Ctrl-C too, is the command's
	pipe  bool // -i alone on a terminal: the command reads a pipe of it, never the caller's terminal
}

// decideStreams reads -i and -t as docker run does: -t without -i gives
// the command a terminal but no input (and leaves the caller's cooked);
// -it needs a terminal to read; -i alone pipes standard input.
func decideStreams(interactive, tty, stdinIsTerminal bool) (runStreams, error) {
	switch {
	case tty && interactive && !stdinIsTerminal:
		return runStreams{}, errNotTTY
	case tty:
		return runStreams{tty: true, input: interactive, raw: interactive}, nil
	case interactive:
		return runStreams{input: true, pipe: stdinIsTerminal}, nil
	}
	return runStreams{}, nil
}

// attach connects o to in and out as s says: the command's input, its
// terminal's size (out's, as docker takes it, else in's) and resizes, the
// caller's terminal raw. detach undoes it, the terminal restored, and may
// be called again; the context's end (a signal: gantry exits without
// running deferred calls) restores the terminal too.
func attach(ctx context.Context, s runStreams, in io.Reader, out io.Writer, o *container.RunOptions) (detach func(), err error) {
	var (
		once sync.Once
		undo []func()
	)
	detach = func() {
		once.Do(func() {
			for i := len(undo) - 1; i >= 0; i-- {
				undo[i]()
			}
		})
	}
	switch {
	case s.pipe:
		r, w, err := os.Pipe()
		if err != nil {
			return detach, err
		}
		// Not waited for: a read from a terminal cannot be cancelled.
		go func() { io.Copy(w, in); w.Close() }()
		undo = append(undo, func() { r.Close() })
		o.Stdin = r
	case s.input:
		o.Stdin = in
	}
	if !s.tty {
		return detach, nil
	}
	o.TTY = true
	sized, ok := terminalFd(out)
	if !ok {
		sized, ok = terminalFd(in)
	}
	if ok {
		if ws, ok := termSize(sized); ok {
			o.Size = ws
		}
		stop := make(chan struct{})
		sig := make(chan os.Signal, 1)
		notifyResize(sig)
		resize := make(chan sandbox.Winsize)
		o.Resize = resize
		go func() {
			for {
				select {
				case <-sig:
					if ws, ok := termSize(sized); ok {
						select {
						case resize <- ws:
						case <-stop:
							return
						}
					}
				case <-stop:
					return
				}
			}
		}()
		undo = append(undo, func() { signal.Stop(sig); close(stop) })
	}
	if s.raw {
		fd, _ := terminalFd(in)
		old, err := term.MakeRaw(fd)
		if err != nil {
			detach()
			return detach, err
		}
		var restoreOnce sync.Once
		restore := func() { restoreOnce.Do(func() { term.Restore(fd, old) }) }
		done := make(chan struct{})
		go func() {
			select {
			case <-ctx.Done():
				restore()
			case <-done:
			}
		}()
		undo = append(undo, func() { close(done); restore() })
	}
	return detach, nil
}

// terminalFd is v's descriptor, if v is a terminal.
func terminalFd(v any) (int, bool) {
	f, ok := v.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return -1, false
	}
	return int(f.Fd()), true
}

func termSize(fd int) (sandbox.Winsize, bool) {
	cols, rows, err := term.GetSize(fd)
	if err != nil || cols <= 0 || rows <= 0 || cols > 0xffff || rows > 0xffff {
		return sandbox.Winsize{}, false
	}
	return sandbox.Winsize{Rows: uint16(rows), Cols: uint16(cols)}, true
}
