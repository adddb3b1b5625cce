package main

import (
	"context"
	"io"
	"os"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gantry-build/gantry/internal/ptytest"
	"github.com/gantry-build/gantry/pkg/container"
	"github.com/gantry-build/gantry/pkg/sandbox"
)

func termios(t *testing.T, f *os.File) unix.Termios {
	t.Helper()
	tio, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	return *tio
}

// -it: the caller's terminal goes raw (Ctrl-C is a byte for the command),
// its size is the command's, a resize (SIGWINCH) is passed on, and detach
// gives the terminal back as it was.
func TestAttachRawSizeResize(t *testing.T) {
	term, control, err := ptytest.Open(80, 24)
	if err != nil {
		t.Fatal(err)
	}
	defer term.Close()
	defer control.Close()
	before := termios(t, term)
	var o container.RunOptions
	detach, err := attach(context.Background(), runStreams{tty: true, input: true, raw: true}, term, term, &o)
	if err != nil {
		t.Fatal(err)
	}
	defer detach()
	if !o.TTY || o.Stdin != term || o.Size != (sandbox.Winsize{Rows: 24, Cols: 80}) {
		t.Errorf("options: TTY %v, stdin %v, size %+v", o.TTY, o.Stdin, o.Size)
	}
	if raw := termios(t, term); raw.Lflag&(unix.ICANON|unix.ISIG|unix.ECHO) != 0 {
		t.Errorf("the terminal is not raw: lflag %#x", raw.Lflag)
	}
	if err := unix.IoctlSetWinsize(int(term.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 40, Col: 120}); err != nil {
		t.Fatal(err)
	}
	syscall.Kill(os.Getpid(), syscall.SIGWINCH) // the test does not own the terminal: the kernel sends it to no one here
	select {
	case ws := <-o.Resize:
		if ws != (sandbox.Winsize{Rows: 40, Cols: 120}) {
			t.Errorf("resize %+v, want 40x120", ws)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("SIGWINCH was not passed on")
	}
	detach()
	if after := termios(t, term); after != before {
		t.Errorf("detach left the terminal %+v, was %+v", after, before)
	}
}

// A signal (the context ends) gives the terminal back at once, before
// gantry exits without running its deferred calls.
func TestAttachRestoresOnCancel(t *testing.T) {
	term, control, err := ptytest.Open(80, 24)
	if err != nil {
		t.Fatal(err)
	}
	defer term.Close()
	defer control.Close()
	before := termios(t, term)
	ctx, cancel := context.WithCancel(context.Background())
	var o container.RunOptions
	detach, err := attach(ctx, runStreams{tty: true, input: true, raw: true}, term, term, &o)
	if err != nil {
		t.Fatal(err)
	}
	defer detach()
	cancel()
	for i := 0; termios(t, term) != before; i++ {
		if i == 100 {
			t.Fatal("the terminal stayed raw after the context ended")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// -i on a terminal: the command reads a pipe of it, never the terminal.
func TestAttachPipesATerminal(t *testing.T) {
	term, control, err := ptytest.Open(80, 24)
	if err != nil {
		t.Fatal(err)
	}
	defer term.Close()
	defer control.Close()
	var o container.RunOptions
	detach, err := attach(context.Background(), runStreams{input: true, pipe: true}, term, term, &o)
	if err != nil {
		t.Fatal(err)
	}
	defer detach()
	f, ok := o.Stdin.(*os.File)
	if !ok || f == term {
		t.Fatalf("stdin %v: want a pipe", o.Stdin)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFIFO {
		t.Fatalf("stdin is not a pipe (mode %#o, %v)", st.Mode, err)
	}
	control.Write([]byte("typed\n"))
	buf := make([]byte, 6)
	f.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(f, buf); err != nil || string(buf) != "typed\n" {
		t.Errorf("read %q, %v", buf, err)
	}
	if o.TTY {
		t.Error("-i alone gave a terminal")
	}
}
