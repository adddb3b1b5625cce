// Package e2e runs the gantry binary against a real distribution registry,
// a real Docker engine (for docker load/run checks) and BuildKit's buildkitd
// (the reference for what a Dockerfile build makes). .ci/run starts all
// three and sets GANTRY_E2E=1; under it a missing tool or service is a
// failure. Without it the suite does not
// run, so `go test ./...` passes on any machine.
package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var (
	gantryBin    string // built once by TestMain
	registry     string // host:port of the open registry
	fixtures     string // directory with the base images' inputs
	buildkitHost string // buildctl's address of the reference buildkitd
)

func TestMain(m *testing.M) {
	if os.Getenv("GANTRY_E2E") != "1" {
		fmt.Println("e2e: not run (set GANTRY_E2E=1, as .ci/run does)")
		os.Exit(0)
	}
	code, err := setup(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e setup failed:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func setup(m *testing.M) (int, error) {
	for _, tool := range []string{"docker", "skopeo", "umoci", "docker-registry", "dpkg-deb", "tar", "gzip", "zstd", "buildctl"} {
		if _, err := exec.LookPath(tool); err != nil {
			return 1, fmt.Errorf("%s is not installed (.ci/run installs it)", tool)
		}
	}
	registry = os.Getenv("GANTRY_E2E_REGISTRY")
	buildkitHost = os.Getenv("BUILDKIT_HOST")
	if registry == "" || os.Getenv("DOCKER_HOST") == "" || buildkitHost == "" {
		return 1, fmt.Errorf("GANTRY_E2E_REGISTRY, DOCKER_HOST and BUILDKIT_HOST must be set (run .ci/run)")
	}
	// The lists of known differences are checked before any test runs: a
	// list naming a case that is gone fails the run.
	if err := checkLists(caseNames()); err != nil {
		return 1, err
	}
	dir, err := os.MkdirTemp("", "gantry-e2e-")
	if err != nil {
		return 1, err
	}
	defer os.RemoveAll(dir)
	// The docker CLI and skopeo get a configuration of their own: nothing
	// of the machine's (credentials, credsStore, the manifest lists that
	// `docker manifest create` keeps from earlier runs) leaks into the run.
	// Docker 20.10's CLI needs the experimental switch for `docker manifest`.
	toolConfig := filepath.Join(dir, "docker-cli")
	if err := os.MkdirAll(toolConfig, 0o700); err != nil {
		return 1, err
	}
	os.Setenv("DOCKER_CONFIG", toolConfig)
	os.Setenv("DOCKER_CLI_EXPERIMENTAL", "enabled")
	if resp, err := http.Get("http://" + registry + "/v2/"); err != nil {
		return 1, fmt.Errorf("no registry at GANTRY_E2E_REGISTRY=%s: %v", registry, err)
	} else {
		resp.Body.Close()
	}
	if out, err := shErr("docker", "version", "--format", "{{.Server.Version}}"); err != nil {
		return 1, fmt.Errorf("no Docker engine at DOCKER_HOST=%s: %v", os.Getenv("DOCKER_HOST"), err)
	} else if v := strings.TrimSpace(out); v != "" {
		fmt.Printf("e2e: Docker engine %s, registry %s\n", v, registry)
	}
	if out, err := shErr("buildctl", "--addr", buildkitHost, "debug", "workers"); err != nil || !strings.Contains(out, "linux/amd64") {
		return 1, fmt.Errorf("no BuildKit worker for linux/amd64 at BUILDKIT_HOST=%s: %v\n%s", buildkitHost, err, out)
	}
	// GANTRY_E2E_BIN runs the suite against a gantry built elsewhere (for
	// a developer whose checkout is in the middle of a change).
	if gantryBin = os.Getenv("GANTRY_E2E_BIN"); gantryBin == "" {
		gantryBin = filepath.Join(dir, "gantry")
		build := exec.Command("go", "build", "-o", gantryBin, "./cmd/gantry")
		build.Dir = "../.."
		if out, err := build.CombinedOutput(); err != nil {
			return 1, fmt.Errorf("go build: %v\n%s", err, out)
		}
	}
	fixtures = filepath.Join(dir, "fixtures")
	if err := makeBaseImages(fixtures); err != nil {
		return 1, err
	}
	return m.Run(), nil
}

// env is one test's private gantry environment.
type env struct {
	t      *testing.T
	root   string // GANTRY_ROOT
	config string // XDG_CONFIG_HOME
	docker string // DOCKER_CONFIG
	path   string // extra PATH entry (credential helpers)
	extra  []string
	asUser []string // command prefix running gantry as another user (setpriv …)
}

func newEnv(t *testing.T) *env {
	return &env{t: t, root: t.TempDir(), config: t.TempDir(), docker: t.TempDir()}
}

func (e *env) environ() []string {
	out := []string{
		"GANTRY_ROOT=" + e.root, "XDG_CONFIG_HOME=" + e.config, "DOCKER_CONFIG=" + e.docker,
		"HOME=" + e.docker, "DOCKER_HOST=" + os.Getenv("DOCKER_HOST"),
	}
	path := os.Getenv("PATH")
	if e.path != "" {
		path = e.path + ":" + path
	}
	return append(append(out, "PATH="+path), e.extra...)
}

// run runs gantry; stdin may be nil.
func (e *env) run(stdin []byte, args ...string) (stdout, stderr string, err error) {
	cmd := exec.Command(gantryBin, args...)
	if len(e.asUser) > 0 {
		cmd = exec.Command(e.asUser[0], append(append(e.asUser[1:], gantryBin), args...)...)
	}
	cmd.Env = e.environ()
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var o, s bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &s
	err = cmd.Run()
	return o.String(), s.String(), err
}

func (e *env) gantry(args ...string) string {
	e.t.Helper()
	out, errOut, err := e.run(nil, args...)
	if err != nil {
		e.t.Fatalf("gantry %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// gantryFails runs gantry expecting failure and returns its error: the last
// line that starts with "gantry: " and the indented lines after it (a
// multi-line error, such as a RUN failure with its last output).
func (e *env) gantryFails(args ...string) string {
	e.t.Helper()
	out, errOut, err := e.run(nil, args...)
	if err == nil {
		e.t.Fatalf("gantry %s succeeded, want failure\nstdout: %s", strings.Join(args, " "), out)
	}
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	i := len(lines) - 1
	for i > 0 && strings.HasPrefix(lines[i], "  ") {
		i--
	}
	if !strings.HasPrefix(lines[i], "gantry: ") {
		e.t.Fatalf("gantry %s: error line %q does not start with 'gantry: '", strings.Join(args, " "), lines[i])
	}
	return strings.Join(lines[i:], "\n")
}

// sh runs a command (docker, skopeo, umoci) and returns its stdout.
func sh(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := shErr(name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v", name, strings.Join(args, " "), err)
	}
	return out
}

func shErr(name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	var o, s bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &s
	if err := cmd.Run(); err != nil {
		return o.String(), fmt.Errorf("%v: %s", err, strings.TrimSpace(s.String()))
	}
	return o.String(), nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// field returns the value of the "Key: value" line of out.
func field(out, key string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, key+":") {
			return strings.TrimSpace(strings.TrimPrefix(l, key+":"))
		}
	}
	return ""
}
