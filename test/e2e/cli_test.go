package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// jsonLines checks that every line of stderr is one JSON event, and
// returns the events.
func jsonLines(t *testing.T, what, stderr string) []map[string]any {
	t.Helper()
	var events []map[string]any
	if stderr == "" {
		return nil
	}
	for _, line := range strings.Split(strings.TrimSuffix(stderr, "\n"), "\n") {
		var e map[string]any
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Errorf("%s: a stderr line is not JSON: %q", what, line)
			continue
		}
		if _, ok := e["event"].(string); !ok {
			t.Errorf("%s: a JSON line without an event: %q", what, line)
		}
		events = append(events, e)
	}
	return events
}

// With --progress json every line on stderr is one JSON event, from the
// first blob to the error a command fails with.
func TestCLIProgressJSON(t *testing.T) {
	e := newEnv(t)
	stdout, stderr, err := e.run(nil, "--progress", "json", "pull", baseRef("amd64"))
	if err != nil {
		t.Fatalf("pull: %v\n%s", err, stderr)
	}
	kinds := map[string]int{}
	for _, ev := range jsonLines(t, "pull", stderr) {
		kinds[ev["event"].(string)]++
	}
	if kinds["start"] == 0 || kinds["done"] != kinds["start"] {
		t.Errorf("pull events: %v\n%s", kinds, stderr)
	}
	if !strings.HasSuffix(stdout, baseRef("amd64")+"\n") {
		t.Errorf("pull stdout: %q", stdout)
	}

	// A build (from flags) reports through the same events.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "f"), []byte("x\n"), 0o644)
	_, stderr, err = e.run(nil, "--progress", "json", "build", "--from", baseRef("amd64"), "--add", dir+":/data", "-t", "example.com/cli/json:1")
	if err != nil {
		t.Fatalf("build: %v\n%s", err, stderr)
	}
	jsonLines(t, "build", stderr)

	// A Dockerfile build: RUN output arrives as log events of its step, and
	// a failing RUN ends with the step's fail event, then the command's.
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM "+baseRef("amd64")+"\nRUN echo hello-from-run && echo to-stderr >&2\nRUN echo about-to-fail && exit 3\n"), 0o644)
	_, stderr, err = e.run(nil, "--progress", "json", "build", dir, "-t", "example.com/cli/json-df:1")
	if err == nil {
		t.Fatal("the failing RUN succeeded")
	}
	events := jsonLines(t, "dockerfile build", stderr)
	logged := map[string]string{}
	var stepFailed, cmdFailed bool
	for _, ev := range events {
		switch ev["event"] {
		case "log":
			logged[fmt.Sprint(ev["message"])] = fmt.Sprint(ev["id"])
		case "fail":
			if ev["id"] != nil {
				stepFailed = true
			} else {
				cmdFailed = strings.Contains(fmt.Sprint(ev["error"]), "exit code 3")
			}
		}
	}
	for _, line := range []string{"hello-from-run", "to-stderr", "about-to-fail"} {
		if logged[line] == "" {
			t.Errorf("RUN output %q is not a log event with a step id: %v", line, logged)
		}
	}
	if !stepFailed || !cmdFailed {
		t.Errorf("failing RUN: step fail event %v, command fail event with the exit code %v\n%s", stepFailed, cmdFailed, stderr)
	}

	// A failure ends with a fail event carrying the error, and exit 1.
	for _, args := range [][]string{
		{"--progress", "json", "pull", registry + "/e2e/nope:1"},
		{"--progress", "json", "rmi", "example.com/never:1"},
	} {
		_, stderr, err = e.run(nil, args...)
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 {
			t.Errorf("%v: %v, want exit status 1", args, err)
		}
		events := jsonLines(t, strings.Join(args, " "), stderr)
		if len(events) == 0 {
			t.Fatalf("%v: nothing on stderr", args)
		}
		last := events[len(events)-1]
		if last["event"] != "fail" || last["id"] != nil || !strings.Contains(fmt.Sprint(last["error"]), "not") {
			t.Errorf("%v: last event %v, want a fail event with the error", args, last)
		}
	}
}

// gantry run takes the command's flags without "--", as docker run does,
// for a throwaway container and for a working container.
func TestCLIRunWithoutDashes(t *testing.T) {
	e := newEnv(t)
	out := e.gantry("run", "--rm", baseRef("amd64"), "ls", "-la", "/")
	if !strings.Contains(out, "bin") || !strings.Contains(out, "drwx") {
		t.Errorf("run --rm IMAGE ls -la /:\n%s", out)
	}
	c := strings.TrimSpace(e.gantry("from", "--name", "clirun", baseRef("amd64")))
	e.gantry("run", c, "sh", "-c", "echo kept > /kept")
	if out := e.gantry("run", c, "cat", "/kept"); out != "kept\n" {
		t.Errorf("run NAME cat /kept: %q", out)
	}
	if out := e.gantry("run", "-e", "X=1", c, "--", "sh", "-c", "echo $X"); out != "1\n" {
		t.Errorf("run -e X=1 NAME -- sh -c 'echo $X': %q", out)
	}
	e.gantry("rm", c)
}

// save and export write to a redirected stdout without -o, as docker save.
func TestCLISaveToStdout(t *testing.T) {
	e := newEnv(t)
	e.gantry("pull", baseRef("amd64"))
	archive := filepath.Join(t.TempDir(), "x.tar")
	f, err := os.Create(archive)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(gantryBin, "save", baseRef("amd64"))
	cmd.Env = e.environ()
	cmd.Stdout = f
	var errOut strings.Builder
	cmd.Stderr = &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("save > x.tar: %v\n%s", err, errOut.String())
	}
	f.Close()
	out := sh(t, "docker", "load", "-i", archive)
	if !strings.Contains(out, "Loaded image") {
		t.Errorf("docker load of gantry save > x.tar: %s", out)
	}
	t.Cleanup(func() { shErr("docker", "rmi", "-f", baseRef("amd64")) })
}

// The tty view on a real terminal (tmux): what ended is on the screen
// exactly once, the live area is gone at the end, and nothing else was
// erased.
func TestCLITTYProgress(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatal("tmux is not installed (apt-get install tmux; .ci/run installs it)")
	}
	e := newEnv(t)
	// An image of several layers to pull.
	ref := uniqueRepo("cli-tty") + ":1"
	prev := baseRef("amd64")
	for i := 0; i < 3; i++ {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%d", i)), []byte(strings.Repeat(fmt.Sprint(i), 1<<20)), 0o644)
		next := fmt.Sprintf("example.com/cli/tty:%d", i)
		e.gantry("build", "--from", prev, "--add", dir+":/data", "--timestamp", "now", "-t", next)
		prev = next
	}
	e.gantry("push", prev, ref)

	fresh := newEnv(t)
	transcript := inTerminal(t, fresh, "pull", ref)
	lines := strings.Split(transcript, "\n")
	done := map[string]int{}
	for _, l := range lines {
		if strings.Contains(l, ": done (") {
			done[l[:strings.Index(l, ": done (")]]++
		}
		if strings.HasPrefix(l, "=> ") {
			t.Errorf("the live area is left on the screen: %q", l)
		}
	}
	// One done line per layer, each once.
	layers := strings.TrimSpace(fresh.gantry("inspect", "--format", "{{len .RootFS.Layers}}", ref))
	if len(done) != atoi(layers) {
		t.Errorf("%d layers done, want %s:\n%s", len(done), layers, transcript)
	}
	for blob, n := range done {
		if n != 1 {
			t.Errorf("%s: done %d times:\n%s", blob, n, transcript)
		}
	}
	for _, want := range []string{"Digest: sha256:", "Status: Downloaded newer image for " + ref, "exit=0"} {
		if n := strings.Count(transcript, want); n != 1 {
			t.Errorf("%q appears %d times:\n%s", want, n, transcript)
		}
	}
}

// inTerminal runs gantry with args in a tmux terminal of 100×30 and
// returns what the terminal shows, scrollback included, once it exits.
func inTerminal(t *testing.T, e *env, args ...string) string {
	t.Helper()
	dir := t.TempDir()
	sock := filepath.Join(dir, "tmux.sock")
	script := filepath.Join(dir, "run.sh")
	var b strings.Builder
	for _, kv := range e.environ() {
		k, v, _ := strings.Cut(kv, "=")
		fmt.Fprintf(&b, "export %s=%s\n", k, shellQuote(v))
	}
	fmt.Fprintf(&b, "%s", shellQuote(gantryBin))
	for _, a := range args {
		fmt.Fprintf(&b, " %s", shellQuote(a))
	}
	b.WriteString("\necho exit=$?\nsleep 600\n")
	os.WriteFile(script, []byte(b.String()), 0o755)
	if out, err := exec.Command("tmux", "-S", sock, "-f", "/dev/null", "new-session", "-d", "-x", "100", "-y", "30", "sh", script).CombinedOutput(); err != nil {
		t.Fatalf("tmux: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("tmux", "-S", sock, "kill-server").Run() })
	deadline := time.Now().Add(2 * time.Minute)
	for {
		out, err := exec.Command("tmux", "-S", sock, "capture-pane", "-p", "-J", "-S", "-", "-E", "-").Output()
		if err != nil {
			t.Fatalf("tmux capture-pane: %v", err)
		}
		if strings.Contains(string(out), "exit=") {
			return strings.TrimRight(string(out), "\n")
		}
		if time.Now().After(deadline) {
			t.Fatalf("gantry %v did not finish in the terminal:\n%s", args, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func atoi(s string) int {
	var n int
	fmt.Sscan(s, &n)
	return n
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
