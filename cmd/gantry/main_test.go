package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// The test binary is gantry itself when GANTRY_TEST_MAIN is set, so that
// tests can run the command as a process and send it signals.
func TestMain(m *testing.M) {
	if os.Getenv("GANTRY_TEST_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// gantryProcess is the gantry command with args, on a private store and
// configuration.
func gantryProcess(t *testing.T, root string, args ...string) (*exec.Cmd, *syncBuffer) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, args...)
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "GANTRY_TEST_MAIN=1", "GANTRY_ROOT="+root, "HOME="+home,
		"XDG_CONFIG_HOME="+filepath.Join(home, ".config"), "DOCKER_CONFIG="+filepath.Join(home, ".docker"))
	var stderr syncBuffer
	cmd.Stderr = &stderr
	cmd.Stdout = io.Discard
	return cmd, &stderr
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// hangingRegistry serves an image from go-containerregistry's in-memory
// registry, except that what hang names gets an answer that never ends: the
// manifest ("manifest") no header at all, the layer ("layer") its first
// bytes and then nothing. arrived is closed when that request came.
func hangingRegistry(t *testing.T, hang string) (host string, arrived chan struct{}) {
	t.Helper()
	inner := ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))
	img, err := random.Image(256<<10, 1)
	if err != nil {
		t.Fatal(err)
	}
	layers, _ := img.Layers()
	layer, _ := layers[0].Digest()
	size, _ := layers[0].Size()
	path := "/manifests/"
	if hang == "layer" {
		path = "/blobs/" + layer.String()
	}
	arrived = make(chan struct{})
	var once sync.Once
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || !strings.Contains(r.URL.Path, path) {
			inner.ServeHTTP(w, r)
			return
		}
		if hang == "layer" {
			rc, _ := layers[0].Compressed()
			head := make([]byte, 1024)
			io.ReadFull(rc, head)
			rc.Close()
			w.Header().Set("Content-Length", fmt.Sprint(size))
			w.WriteHeader(http.StatusOK)
			w.Write(head)
			w.(http.Flusher).Flush()
		}
		once.Do(func() { close(arrived) })
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)
	host = strings.TrimPrefix(srv.URL, "http://")
	ref, err := name.ParseReference(host+"/hang/img:1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	return host, arrived
}

// SIGINT and SIGTERM end a pull from a registry that stopped answering
// within a second, with "interrupted" and nothing half-written in the store.
func TestSignalStopsAHangingPull(t *testing.T) {
	for _, tc := range []struct {
		name string
		hang string
		sig  syscall.Signal
	}{
		{"manifest, SIGINT", "manifest", syscall.SIGINT},
		{"layer, SIGTERM", "layer", syscall.SIGTERM},
		{"layer, SIGINT", "layer", syscall.SIGINT},
	} {
		t.Run(tc.name, func(t *testing.T) {
			host, arrived := hangingRegistry(t, tc.hang)
			root := t.TempDir()
			cmd, stderr := gantryProcess(t, root, "pull", "--progress", "plain", host+"/hang/img:1")
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			select {
			case <-arrived:
			case err := <-exited:
				t.Fatalf("gantry ended before the registry hung: %v: %s", err, stderr)
			case <-time.After(30 * time.Second):
				cmd.Process.Kill()
				t.Fatalf("the hanging request never came: %s", stderr)
			}
			time.Sleep(100 * time.Millisecond)
			sent := time.Now()
			if err := cmd.Process.Signal(tc.sig); err != nil {
				t.Fatalf("%v: %s", err, stderr)
			}
			var err error
			select {
			case err = <-exited:
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				t.Fatalf("gantry still running 10 s after %v: %s", tc.sig, stderr)
			}
			if took := time.Since(sent); took > time.Second {
				t.Errorf("gantry took %v to stop after %v", took, tc.sig)
			}
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() == 0 {
				t.Errorf("exit: %v, want a failure", err)
			}
			if !strings.Contains(stderr.String(), "interrupted") {
				t.Errorf("stderr does not say interrupted: %q", stderr)
			}
			if tmp, _ := os.ReadDir(filepath.Join(root, "tmp")); len(tmp) != 0 {
				t.Errorf("temp files left in the store: %v", tmp)
			}
			if b, _ := os.ReadFile(filepath.Join(root, "index.json")); bytes.Contains(b, []byte("hang/img")) {
				t.Errorf("the interrupted image got a name: %s", b)
			}
		})
	}
}

// A command blocked where no context reaches (a read from a standard input
// nobody writes to, a write to a standard output nobody reads) still ends
// within a second of SIGINT.
func TestSignalStopsACommandBlockedOnItsStandardStreams(t *testing.T) {
	root := t.TempDir()
	load, stderr := gantryProcess(t, root, "load", "-i", "../../testdata/hello-docker.tar")
	if err := load.Run(); err != nil {
		t.Fatalf("load: %v: %s", err, stderr)
	}
	for _, tc := range []struct {
		name  string
		args  []string
		setup func(cmd *exec.Cmd) (cleanup func())
	}{
		{"load from a silent stdin", []string{"load"}, func(cmd *exec.Cmd) func() {
			r, w, _ := os.Pipe()
			cmd.Stdin = r
			return func() { r.Close(); w.Close() }
		}},
		{"save to an unread stdout", []string{"save", "gantry-testdata/hello:1", "-o", "-"}, func(cmd *exec.Cmd) func() {
			r, w, _ := os.Pipe()
			cmd.Stdout = w
			return func() { r.Close(); w.Close() }
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmp := t.TempDir()
			cmd, stderr := gantryProcess(t, root, tc.args...)
			cmd.Env = append(cmd.Env, "TMPDIR="+tmp)
			cleanup := tc.setup(cmd)
			defer cleanup()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			select {
			case err := <-exited:
				t.Fatalf("gantry ended before it blocked: %v: %s", err, stderr)
			case <-time.After(700 * time.Millisecond):
			}
			sent := time.Now()
			if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
				t.Fatal(err)
			}
			select {
			case <-exited:
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				t.Fatalf("gantry still running 10 s after SIGINT: %s", stderr)
			}
			if took := time.Since(sent); took > time.Second {
				t.Errorf("gantry took %v to stop after SIGINT", took)
			}
			if !strings.Contains(stderr.String(), "interrupted") {
				t.Errorf("stderr does not say interrupted: %q", stderr)
			}
			if left, _ := os.ReadDir(tmp); len(left) != 0 {
				t.Errorf("temporary files left: %v", left)
			}
		})
	}
}
