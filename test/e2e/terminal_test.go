//go:build linux

package e2e

import (
	"errors"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gantry-build/gantry/internal/ptytest"
)

// onTerminal is gantry running with a pseudo-terminal as its controlling
// terminal and its 0, 1 and 2, as in a person's shell: the kernel sends it
// SIGWINCH when the terminal is resized.
type onTerminal struct {
	t             *testing.T
	cmd           *exec.Cmd
	term, control *os.File
	before        unix.Termios // the terminal before gantry started
	mu            sync.Mutex
	out           strings.Builder
	exited        chan error
}

func startOnTerminal(t *testing.T, e *env, cols, rows int, args ...string) *onTerminal {
	t.Helper()
	term, control, err := ptytest.Open(cols, rows)
	if err != nil {
		t.Fatal(err)
	}
	s := &onTerminal{t: t, term: term, control: control, exited: make(chan error, 1)}
	s.before = s.termios()
	s.cmd = exec.Command(gantryBin, args...)
	s.cmd.Env = e.environ()
	s.cmd.Stdin, s.cmd.Stdout, s.cmd.Stderr = term, term, term
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.cmd.Process.Kill()
		control.Close()
		term.Close()
	})
	go func() { s.exited <- s.cmd.Wait() }()
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := control.Read(buf)
			s.mu.Lock()
			s.out.Write(buf[:n])
			s.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return s
}

func (s *onTerminal) termios() unix.Termios {
	s.t.Helper()
	tio, err := unix.IoctlGetTermios(int(s.term.Fd()), unix.TCGETS)
	if err != nil {
		s.t.Fatal(err)
	}
	return *tio
}

func (s *onTerminal) output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.String()
}

func (s *onTerminal) type_(in string) {
	s.t.Helper()
	if _, err := s.control.Write([]byte(in)); err != nil {
		s.t.Fatalf("typing %q: %v", in, err)
	}
}

// waitFor waits for re in the output, d at most, and returns its match.
func (s *onTerminal) waitFor(re string, d time.Duration) string {
	s.t.Helper()
	rx := regexp.MustCompile(re)
	for deadline := time.Now().Add(d); ; time.Sleep(20 * time.Millisecond) {
		if m := rx.FindString(s.output()); m != "" {
			return m
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("no %s on the terminal after %v:\n%q", re, d, s.output())
		}
	}
}

// waitRaw waits until gantry has made the terminal raw.
func (s *onTerminal) waitRaw() {
	s.t.Helper()
	for deadline := time.Now().Add(30 * time.Second); s.termios().Lflag&unix.ICANON != 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			s.t.Fatalf("the terminal never went raw:\n%q", s.output())
		}
	}
}

// exit waits for gantry's end and returns its exit code; the terminal must
// be as it was before gantry started.
func (s *onTerminal) exit(d time.Duration) int {
	s.t.Helper()
	var err error
	select {
	case err = <-s.exited:
	case <-time.After(d):
		s.t.Fatalf("gantry did not exit within %v:\n%q", d, s.output())
	}
	if after := s.termios(); after != s.before {
		s.t.Errorf("gantry left the terminal changed:\nbefore %+v\nafter  %+v", s.before, after)
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		s.t.Fatal(err)
	}
	return 0
}

// gantry run -it, as docker run -it: the command's terminal is one of the
// sandbox's, sized as the caller's and resized with it, TERM is xterm, and
// the caller's terminal is raw while it runs and as it was after.
func TestRunTerminal(t *testing.T) {
	e := newEnv(t)
	c := strings.TrimSpace(e.gantry("from", baseRef("amd64"), "--name", "pty"))
	s := startOnTerminal(t, e, 100, 30, "run", "-it", c, "--", "/bin/sh")
	s.waitRaw()
	// The quotes split the words the terminal echoes: only the command's
	// output has them whole.
	s.type_(`busybox tty; test -c "$(busybox tty)" && echo "ex""ists"; echo "T=$TERM"` + "\r")
	s.waitFor(`(?m)^/dev/pts/\d+\r\n`, 30*time.Second)
	s.waitFor(`(?m)^exists\r\n`, 5*time.Second)
	s.waitFor(`(?m)^T=xterm\r\n`, 5*time.Second)
	s.type_("busybox stty size\r")
	s.waitFor(`(?m)^30 100\r\n`, 5*time.Second)
	if err := unix.IoctlSetWinsize(int(s.term.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 40, Col: 120}); err != nil {
		t.Fatal(err)
	}
	// The resize travels: kernel → gantry's SIGWINCH → the sandbox's terminal.
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(s.output(), "\n40 120\r\n"); time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the resize never reached the command:\n%q", s.output())
		}
		s.type_("busybox stty size\r")
	}
	s.type_("exit 5\r")
	if code := s.exit(20 * time.Second); code != 5 {
		t.Errorf("exit code %d, want the shell's 5", code)
	}
}

// Ctrl-C is the byte 0x03 through the raw terminal: the command's terminal
// sends SIGINT to its foreground process group. In an interactive shell,
// sleep ends and the shell goes on; in sh -c (PID 1), sleep and the shell's
// trap get it, and gantry's exit code is the shell's, 130.
func TestRunTerminalCtrlC(t *testing.T) {
	e := newEnv(t)
	c := strings.TrimSpace(e.gantry("from", baseRef("amd64"), "--name", "ctrlc"))
	s := startOnTerminal(t, e, 80, 24, "run", "-it", "--network", "none", c, "--", "/bin/sh")
	s.waitRaw()
	s.type_("busybox sleep 100\r")
	s.waitFor(`busybox sleep 100\r\n`, 30*time.Second) // the echo
	time.Sleep(500 * time.Millisecond)                 // sleep has started
	start := time.Now()
	s.type_("\x03")
	s.type_(`echo "rc=$?"; exit 4` + "\r")
	s.waitFor(`(?m)^rc=130\r\n`, 3*time.Second)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Ctrl-C took %v", d)
	}
	if code := s.exit(10 * time.Second); code != 4 {
		t.Errorf("exit code %d, want the shell's 4", code)
	}

	s = startOnTerminal(t, e, 80, 24, "run", "-it", "--network", "none", c, "--", "/bin/sh", "-c",
		`trap "echo got-int" INT; echo napping; busybox sleep 100; r=$?; echo "rc=$r"; exit $r`)
	s.waitFor(`napping\r\n`, 30*time.Second)
	time.Sleep(300 * time.Millisecond) // sleep has started
	start = time.Now()
	s.type_("\x03")
	s.waitFor(`got-int\r\nrc=130\r\n`, 3*time.Second)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Ctrl-C took %v", d)
	}
	if code := s.exit(10 * time.Second); code != 130 {
		t.Errorf("exit code %d, want 130", code)
	}
}

// The caller's terminal comes back as it was when the command cannot
// start, and when gantry is ended by a signal.
func TestRunTerminalRestored(t *testing.T) {
	e := newEnv(t)
	c := strings.TrimSpace(e.gantry("from", baseRef("amd64"), "--name", "restored"))
	s := startOnTerminal(t, e, 80, 24, "run", "-it", "--network", "none", c, "--", "no-such-command")
	if code := s.exit(30 * time.Second); code != 127 {
		t.Errorf("a missing command: exit code %d, want 127\n%q", code, s.output())
	}
	s = startOnTerminal(t, e, 80, 24, "run", "-it", "--network", "none", c, "--", "busybox", "sleep", "100")
	s.waitRaw()
	s.cmd.Process.Signal(syscall.SIGTERM)
	if code := s.exit(5 * time.Second); code == 0 {
		t.Error("gantry ended by SIGTERM exited 0")
	}
}

// Without a terminal: -it is refused as Docker refuses it; -t alone gives
// the command a terminal and no input; -i alone pipes standard input.
func TestRunTerminalPiped(t *testing.T) {
	e := newEnv(t)
	c := strings.TrimSpace(e.gantry("from", baseRef("amd64"), "--name", "piped"))
	_, stderr, err := e.run([]byte("x\n"), "run", "-it", c, "--", "true")
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(stderr, "the input device is not a TTY") {
		t.Errorf("-it with piped input: %v %q, want Docker's refusal and exit code 1", err, stderr)
	}
	if out := e.gantry("run", "-t", "--network", "none", c, "--", "busybox", "tty"); !regexp.MustCompile(`^/dev/pts/\d+\r\n$`).MatchString(out) {
		t.Errorf("-t without a terminal printed %q, want the sandbox's terminal", out)
	}
	out, stderr, err := e.run([]byte("hi\n"), "run", "--rm", "-i", "--network", "none", baseRef("amd64"), "cat")
	if err != nil || out != "hi\n" {
		t.Errorf("echo hi | gantry run --rm -i IMG cat: %q %v %s", out, err, stderr)
	}
}
