//go:build linux

package sandbox

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
)

// With TTY the command's terminal is one of the sandbox's own devpts: its
// name exists inside, it is the controlling terminal, it has the size Run
// was given, the command's user owns it, and standard error goes to it too.
func TestTTYIsTheSandboxs(t *testing.T) {
	h := newHostTools(t)
	script := `tty; stty size; test -c "$(tty)" && echo exists; stat -c %u "$(tty)"; (exec 3</dev/tty) && echo ctty; echo to-stderr >&2`
	stdout, stderr, _, err := h.runSpec(t, Spec{Args: []string{"/bin/bash", "-c", script}, TTY: true,
		Size: Winsize{Rows: 33, Cols: 77}, UID: 65534, GID: 65534})
	if err != nil {
		t.Fatalf("run: %v\n%s%s", err, stdout, stderr)
	}
	// The terminal's line discipline ends lines with CR LF (ONLCR).
	want := "/dev/pts/0\r\n33 77\r\nexists\r\n65534\r\nctty\r\nto-stderr\r\n"
	if stdout != want {
		t.Errorf("stdout %q, want %q", stdout, want)
	}
	if stderr != "" {
		t.Errorf("stderr %q: with a terminal, the command's errors go to it", stderr)
	}
}

// A set-up failure with TTY is reported as without it, and Run does not
// wait for a terminal that was never made.
func TestTTYSetupFailureIsReported(t *testing.T) {
	h := newHostTools(t)
	done := make(chan error, 1)
	go func() {
		_, _, _, err := h.runSpec(t, Spec{Args: []string{"true"}, TTY: true,
			Mounts: []Mount{{Type: "bind", Source: "/nonexistent-gantry-source", Target: "/x"}}})
		done <- err
	}()
	select {
	case err := <-done:
		var ee *ExitError
		if err == nil || errors.As(err, &ee) || !strings.Contains(err.Error(), "/nonexistent-gantry-source") {
			t.Errorf("got %v, want the sandbox's error naming the missing source", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run hangs after a set-up failure with TTY")
	}
}

// What is typed reaches the command through its terminal; a resize reaches
// its terminal; Ctrl-C (0x03) is SIGINT to its foreground process group;
// and Run returns when the command exits, though its input never ends.
func TestTTYInputResizeAndInterrupt(t *testing.T) {
	h := newHostTools(t)
	script := `trap 'echo got-int' INT; echo ready
while read -r l; do case $l in
size) stty size;;
nap) echo nap""ping; sleep 100; echo rc=$?;;
bye) exit 3;;
esac; done`
	stdinR, stdinW := io.Pipe()
	defer stdinW.Close()
	resize := make(chan Winsize)
	out := &watched{}
	spec := h.spec(Spec{Args: []string{"/bin/bash", "-c", script}, TTY: true, Size: Winsize{Rows: 10, Cols: 40},
		Stdin: stdinR, Resize: resize})
	done := make(chan error, 1)
	go func() {
		_, err := Run(context.Background(), spec, out, io.Discard)
		done <- err
	}()
	type_ := func(s string) {
		if _, err := stdinW.Write([]byte(s)); err != nil {
			t.Fatalf("typing %q: %v", s, err)
		}
	}
	out.waitFor(t, "ready\r\n", 20*time.Second)
	type_("size\r")
	out.waitFor(t, "10 40\r\n", 5*time.Second)
	resize <- Winsize{Rows: 20, Cols: 100}
	deadline := time.Now().Add(5 * time.Second)
	for !out.has("20 100\r\n") {
		if time.Now().After(deadline) {
			t.Fatalf("the resize never reached the command's terminal:\n%q", out.String())
		}
		type_("size\r")
		time.Sleep(100 * time.Millisecond)
	}
	type_("nap\r")
	out.waitFor(t, "napping\r\n", 5*time.Second)
	time.Sleep(300 * time.Millisecond) // sleep is started
	start := time.Now()
	type_("\x03")
	out.waitFor(t, "rc=130\r\n", 5*time.Second)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Ctrl-C took %v to end sleep", d)
	}
	if !out.has("got-int") {
		t.Errorf("the shell, in the foreground process group, did not get SIGINT:\n%q", out.String())
	}
	type_("bye\r")
	select {
	case err := <-done:
		var ee *ExitError
		if !errors.As(err, &ee) || ee.Code != 3 {
			t.Errorf("Run: %v, want exit code 3", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after the command exited")
	}
}

// watched is an output that a test waits on.
type watched struct {
	mu sync.Mutex
	b  strings.Builder
}

func (w *watched) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *watched) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

func (w *watched) has(s string) bool { return strings.Contains(w.String(), s) }

func (w *watched) waitFor(t *testing.T, s string, d time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(d); !w.has(s); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the output after %v:\n%q", s, d, w.String())
		}
	}
}
