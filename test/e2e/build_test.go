package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// appFolder makes the folder the flag build adds: an executable script, a
// data file, a symlink pointing outside and an empty directory.
func appFolder(t *testing.T, mtime time.Time) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "app") // the name goes into the history
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "run.sh"), []byte("#!/bin/sh\necho \"app says $GREETING\"\ncat /app/data.txt\n"), 0o755)
	os.WriteFile(filepath.Join(dir, "data.txt"), []byte("payload\n"), 0o644)
	os.Symlink("/etc/passwd", filepath.Join(dir, "outside"))
	os.MkdirAll(filepath.Join(dir, "empty"), 0o755)
	filepath.Walk(dir, func(p string, _ os.FileInfo, _ error) error {
		exec.Command("touch", "-h", "-d", mtime.Format(time.RFC3339), p).Run()
		return nil
	})
	return dir
}

func TestFlagBuildPushedPulledRun(t *testing.T) {
	e := newEnv(t)
	dest := uniqueRepo("built") + ":1"
	app := appFolder(t, time.Now())
	archive := filepath.Join(t.TempDir(), "built.tar")
	out := e.gantry("build", "--from", baseRef("amd64"), "--add", app+":/app/",
		"--entrypoint", `["/app/run.sh"]`, "--env", "GREETING=hello", "--port", "8080", "--port", "53/udp",
		"--workdir", "/app", "--volume", "/data", "--label", "org.example.team=gantry", "--user", "1000:1000",
		"-t", dest, "--push", "-o", "type=docker,dest="+archive)
	if !strings.Contains(out, "pushed "+dest) || !strings.Contains(out, "written "+archive) {
		t.Fatalf("build output:\n%s", out)
	}
	sh(t, "docker", "pull", dest)
	t.Cleanup(func() { shErr("docker", "rmi", "-f", dest) })
	got := sh(t, "docker", "run", "--rm", "--network", "none", dest)
	if got != "app says hello\npayload\n" {
		t.Errorf("docker run printed %q", got)
	}
	var cfg struct {
		Env          []string
		ExposedPorts map[string]any
		Volumes      map[string]any
		Labels       map[string]string
		User         string
		WorkingDir   string
		Entrypoint   []string
		Cmd          []string
	}
	if err := json.Unmarshal([]byte(sh(t, "docker", "inspect", "-f", "{{json .Config}}", dest)), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.User != "1000:1000" || cfg.WorkingDir != "/app" || cfg.Labels["org.example.team"] != "gantry" ||
		len(cfg.ExposedPorts) != 2 || cfg.Volumes["/data"] == nil || cfg.Entrypoint[0] != "/app/run.sh" || cfg.Cmd != nil {
		t.Errorf("docker inspect config: %+v", cfg)
	}
	hist := sh(t, "docker", "history", "--no-trunc", "--format", "{{.CreatedBy}}", dest)
	for _, want := range []string{"ENV GREETING=hello", "EXPOSE 8080/tcp", "gantry build --add", "ENTRYPOINT [\"/app/run.sh\"]"} {
		if !strings.Contains(hist, want) {
			t.Errorf("docker history lacks %q:\n%s", want, hist)
		}
	}
	ls := sh(t, "docker", "run", "--rm", "--network", "none", "--entrypoint", "/bin/ls", dest, "-la", "/app")
	for _, want := range []string{"outside -> /etc/passwd", "empty", "-rwxr-xr-x"} {
		if !strings.Contains(ls, want) {
			t.Errorf("ls -la /app lacks %q:\n%s", want, ls)
		}
	}

	// The same image through a docker archive and through the daemon API.
	loadedTag := "gantry-e2e/built-archive:1"
	sh(t, "docker", "rmi", "-f", dest)
	if out := sh(t, "docker", "load", "-i", archive); !strings.Contains(out, dest) {
		t.Errorf("docker load of -o type=docker: %s", out)
	}
	e.gantry("build", "--from", baseRef("amd64"), "--add", app+":/app/", "--entrypoint", `["/app/run.sh"]`, "-o", "type=daemon", "-t", loadedTag)
	t.Cleanup(func() { shErr("docker", "rmi", "-f", loadedTag) })
	if got := sh(t, "docker", "run", "--rm", "--network", "none", loadedTag); !strings.Contains(got, "payload") {
		t.Errorf("image loaded through the daemon API printed %q", got)
	}
}

func TestFlagBuildIsReproducible(t *testing.T) {
	e := newEnv(t)
	digest := func(dir string) string {
		out := e.gantry("build", "--from", baseRef("amd64"), "--add", dir+":/app/", "-t", "example.com/repro:1")
		return strings.Fields(lastLine(out))[2]
	}
	a := digest(appFolder(t, time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)))
	b := digest(appFolder(t, time.Date(2024, 5, 5, 5, 5, 5, 0, time.UTC)))
	if a != b {
		t.Errorf("two copies of a folder with other mtimes gave %s and %s", a, b)
	}
	other := newEnv(t)
	out := other.gantry("build", "--from", baseRef("amd64"), "--add", appFolder(t, time.Now())+":/app/", "-t", "example.com/repro:1")
	if c := strings.Fields(lastLine(out))[2]; c != a {
		t.Errorf("a fresh store gave %s, want %s", c, a)
	}
}

func TestMutateChangesCmdOnly(t *testing.T) {
	e := newEnv(t)
	dest := uniqueRepo("mutated") + ":1"
	_, stderr, err := e.run(nil, "--progress", "json", "mutate", baseRef("amd64"), "--change", `CMD ["echo", "mutated"]`, "--change", "ENV MODE=test", "-t", dest, "--push")
	if err != nil {
		t.Fatalf("mutate: %v\n%s", err, stderr)
	}
	sh(t, "docker", "pull", dest)
	t.Cleanup(func() { shErr("docker", "rmi", "-f", dest) })
	if got := sh(t, "docker", "run", "--rm", "--network", "none", dest); got != "mutated\n" {
		t.Errorf("mutated image printed %q", got)
	}
	// Same layers as the base: only config and manifest are new.
	baseLayers := sh(t, "docker", "inspect", "-f", "{{json .RootFS.Layers}}", baseRef("amd64"))
	if got := sh(t, "docker", "inspect", "-f", "{{json .RootFS.Layers}}", dest); got != baseLayers {
		t.Errorf("mutate changed the layers: %s vs %s", got, baseLayers)
	}
}

func TestFlagBuildBadInput(t *testing.T) {
	e := newEnv(t)
	app := appFolder(t, time.Now())
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--add", "/no/such:/app/"}, "does not exist"},
		{[]string{"--add", app + ":relative"}, "absolute"},
		{[]string{"--add", app + ":/app/", "--port", "http"}, "invalid --port"},
		{[]string{"--add", app + ":/app/", "--env", "NOEQUALS"}, "invalid --env"},
		{[]string{"--add", app + ":/app/", "--entrypoint", `["broken"`}, "JSON"},
		{[]string{"--add", app + ":/app/", "--platform", "linux/s390x", "--from", baseRef("multi")}, "linux/arm64"},
	} {
		args := append([]string{"build", "--from", baseRef("amd64")}, tc.args...)
		args = append(args, "-t", uniqueRepo("bad")+":1", "--push")
		if msg := e.gantryFails(args...); !strings.Contains(msg, tc.want) {
			t.Errorf("gantry %s: %s, want %q", strings.Join(tc.args, " "), msg, tc.want)
		}
	}
	if out := e.gantry("images", "--format", "json"); strings.TrimSpace(out) != "[]" {
		t.Errorf("failed builds stored images:\n%s", out)
	}
	if msg := e.gantryFails("build", "--from", registry+"/e2e/absent:1", "--add", app+":/app/", "-t", "x/y:1"); !strings.Contains(msg, "not found") {
		t.Errorf("missing base: %s", msg)
	}
}

func TestMultiPlatformFlagBuild(t *testing.T) {
	e := newEnv(t)
	dest := uniqueRepo("multibuild") + ":1"
	e.gantry("--platform", "linux/amd64,linux/arm64", "build", "--from", baseRef("multi"), "--add", appFolder(t, time.Now())+":/app/",
		"--entrypoint", `["/app/run.sh"]`, "--env", "GREETING=multi", "-t", dest, "--push")
	raw := sh(t, "skopeo", "inspect", "--raw", "--tls-verify=false", "docker://"+dest)
	var idx struct {
		Manifests []struct {
			Platform struct{ Architecture string }
		}
	}
	if err := json.Unmarshal([]byte(raw), &idx); err != nil || len(idx.Manifests) != 2 {
		t.Fatalf("pushed index: %v\n%s", err, raw)
	}
	if idx.Manifests[0].Platform.Architecture != "amd64" || idx.Manifests[1].Platform.Architecture != "arm64" {
		t.Errorf("platforms: %s", raw)
	}
	sh(t, "docker", "pull", dest)
	t.Cleanup(func() { shErr("docker", "rmi", "-f", dest) })
	if got := sh(t, "docker", "run", "--rm", "--network", "none", dest); !strings.Contains(got, "app says multi") {
		t.Errorf("amd64 image printed %q", got)
	}
}
