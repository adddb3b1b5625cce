package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/gantry-build/gantry/pkg/progress"
)

// execute runs gantry with args in-process and returns its stdout.
func execute(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRootCommand()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

// A multi-line error (a RUN failure and its last output) prints as it is,
// indented under the first line, not joined with "; "; spaces inside a
// quoted command stay.
func TestErrorText(t *testing.T) {
	err := fmt.Errorf("build: %w", errors.New("\"sh -c 'echo  two  spaces; exit 3'\" failed with exit code 3; last output:\nline one\n  indented line\n\n"))
	want := "gantry: build: \"sh -c 'echo  two  spaces; exit 3'\" failed with exit code 3; last output:\n  line one\n    indented line\n"
	if got := errorText(err); got != want {
		t.Errorf("errorText:\n%s\nwant:\n%s", got, want)
	}
	if got := errorText(errors.New("no such image: x")); got != "gantry: no such image: x\n" {
		t.Errorf("one-line error: %q", got)
	}
}

// With --progress json the error a command ends with is a fail event.
func TestPrintErrorJSON(t *testing.T) {
	root := newRootCommand()
	root.SetArgs([]string{"--progress", "json", "tag", "a", "b", "c"})
	root.SetOut(new(bytes.Buffer))
	err := root.Execute()
	if err == nil {
		t.Fatal("tag with three arguments succeeded")
	}
	var buf bytes.Buffer
	printError(&buf, root, errors.New("two\nlines"))
	var e progress.Event
	if json.Unmarshal(buf.Bytes(), &e) != nil || e.Event != "fail" || e.Error != "two\nlines" || strings.Count(buf.String(), "\n") != 1 {
		t.Errorf("fail event: %q", buf.String())
	}
}

// Every verb's --help has an Examples section.
func TestEveryVerbHasExamples(t *testing.T) {
	root := newRootCommand()
	for _, c := range root.Commands() {
		if strings.TrimSpace(c.Example) == "" {
			t.Errorf("gantry %s has no examples", c.Name())
		}
	}
	for name := range examples {
		if c, _, err := root.Find([]string{name}); err != nil || c == root {
			t.Errorf("examples for %q, which is no verb", name)
		}
	}
	out, err := execute(t, "build", "--help")
	if err != nil || !strings.Contains(out, "Examples:\n  gantry build -t app:1 .") {
		t.Errorf("build --help:\n%s", out)
	}
}

func TestVersion(t *testing.T) {
	out, err := execute(t, "--version")
	if err != nil || out != fmt.Sprintf("gantry version dev, commit %s, %s\n", shortCommit(commit()), runtime.Version()) {
		t.Errorf("--version: %q %v", out, err)
	}
	out, err = execute(t, "version")
	for _, want := range []string{"Version:    dev\n", "Commit:     " + commit() + "\n", "Go version: " + runtime.Version() + "\n"} {
		if err != nil || !strings.Contains(out, want) {
			t.Errorf("version lacks %q:\n%s", want, out)
		}
	}
	info := &debug.BuildInfo{Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.modified", Value: "true"}}}
	if c := commitOf(info, true); c != "0123456789abcdef0123+dirty" || shortCommit(c) != "0123456789ab+dirty" {
		t.Errorf("commit %q, short %q", c, shortCommit(c))
	}
	if c := commitOf(&debug.BuildInfo{}, true); c != "unknown" {
		t.Errorf("no vcs info: %q", c)
	}
}

// gantry run's flags stop at NAME|IMAGE, as docker run's: the command's
// own flags are its own, with or without "--".
func TestRunFlagsStopAtImage(t *testing.T) {
	for _, args := range [][]string{
		{"--rm", "-e", "A=1", "busybox", "ls", "-la", "/"},
		{"--rm", "-e", "A=1", "busybox", "--", "ls", "-la", "/"},
	} {
		cmd := newRunCommand(&globals{})
		if err := cmd.Flags().Parse(args); err != nil {
			t.Fatalf("%q: %v", args, err)
		}
		rest := cmd.Flags().Args()
		if rm, _ := cmd.Flags().GetBool("rm"); !rm || rest[0] != "busybox" || strings.Join(commandArgs(rest[1:]), " ") != "ls -la /" {
			t.Errorf("%q: rm %v, args %q", args, rm, rest)
		}
	}
}

// commit --squash was a flag that did nothing (a commit makes one layer):
// gone, as docker commit has none.
func TestCommitHasNoSquash(t *testing.T) {
	if _, err := execute(t, "commit", "--squash", "work", "app:1"); err == nil || !strings.Contains(err.Error(), "unknown flag: --squash") {
		t.Errorf("commit --squash: %v", err)
	}
}
