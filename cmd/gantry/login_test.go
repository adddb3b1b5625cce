package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gantry-build/gantry/internal/ptytest"
)

// basicAuthRegistry answers /v2/ for alice:s3cret only.
func basicAuthRegistry(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); ok && u == "alice" && p == "s3cret" {
			w.WriteHeader(http.StatusOK)
			return
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// readUntil reads the terminal until want shows, and returns all read.
func readUntil(t *testing.T, control *os.File, want string) string {
	t.Helper()
	var got []byte
	buf := make([]byte, 256)
	control.SetReadDeadline(time.Now().Add(10 * time.Second))
	for !bytes.Contains(got, []byte(want)) {
		n, err := control.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			t.Fatalf("waiting for %q on the terminal: %v (read %q)", want, err, got)
		}
	}
	return string(got)
}

// On a terminal, login asks for the username and, without echo, the
// password; -p works with Docker's warning; without a terminal it says
// what to give.
func TestLoginPrompts(t *testing.T) {
	host := basicAuthRegistry(t)
	dockerConfig := t.TempDir()
	t.Setenv("DOCKER_CONFIG", dockerConfig)
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())

	term, control, err := ptytest.Open(80, 24)
	if err != nil {
		t.Fatal(err)
	}
	defer control.Close()
	var out bytes.Buffer
	root := newRootCommand()
	root.SetIn(term)
	root.SetErr(term)
	root.SetOut(&out)
	root.SetArgs([]string{"login", host})
	done := make(chan error, 1)
	go func() { done <- root.Execute() }()
	readUntil(t, control, "Username: ")
	control.WriteString("alice\n")
	readUntil(t, control, "Password: ")
	// A person types after the prompt; a test types at once, and could be
	// faster than the turning off of echo that follows the prompt.
	waitEchoOff(term)
	control.WriteString("s3cret\n")
	if err := <-done; err != nil {
		t.Fatalf("login: %v", err)
	}
	term.Close()
	control.SetReadDeadline(time.Now().Add(time.Second))
	rest := make([]byte, 4096)
	n, _ := control.Read(rest)
	if strings.Contains(string(rest[:n]), "s3cret") {
		t.Errorf("the password was echoed: %q", rest[:n])
	}
	if out.String() != "Login Succeeded\n" {
		t.Errorf("stdout %q", out.String())
	}
	cfg, _ := os.ReadFile(filepath.Join(dockerConfig, "config.json"))
	if !strings.Contains(string(cfg), host) {
		t.Errorf("credentials not stored:\n%s", cfg)
	}

	out.Reset()
	root = newRootCommand()
	var errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetIn(strings.NewReader(""))
	root.SetArgs([]string{"login", "-u", "alice", "-p", "s3cret", host})
	if err := root.Execute(); err != nil || out.String() != "Login Succeeded\n" ||
		errOut.String() != "WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n" {
		t.Errorf("login -p: %v\nstdout %q\nstderr %q", err, out.String(), errOut.String())
	}

	root = newRootCommand()
	root.SetIn(strings.NewReader(""))
	root.SetArgs([]string{"login", "-u", "alice", host})
	if err := root.Execute(); err == nil || !strings.Contains(err.Error(), "standard input is not a terminal; use -u USER --password-stdin") {
		t.Errorf("login without a terminal: %v", err)
	}

	root = newRootCommand()
	root.SetOut(&out)
	root.SetIn(strings.NewReader("wrong\n"))
	root.SetArgs([]string{"login", "-u", "alice", "--password-stdin", host})
	if err := root.Execute(); err == nil {
		t.Errorf("a wrong password from standard input was accepted")
	}
}
