package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

type imageConfig struct {
	Entrypoint   []string
	Cmd          []string
	Env          []string
	WorkingDir   string
	User         string
	ExposedPorts map[string]struct{}
	Volumes      map[string]struct{}
	Labels       map[string]string
	OnBuild      []string
	Healthcheck  *struct {
		Test     []string
		Interval int64
		Retries  int
	}
	StopSignal string
	Shell      []string
}

func gantryConfig(t *testing.T, e *env, name string) imageConfig {
	t.Helper()
	var r struct {
		Config struct{ Config imageConfig } `json:"config"`
	}
	if err := json.Unmarshal([]byte(e.gantry("inspect", "--format", "json", name)), &r); err != nil {
		t.Fatal(err)
	}
	return r.Config.Config
}

// Every case of dockerfiles/ builds with gantry as with BuildKit, config
// and filesystem; GANTRY_FAILS lists those that still differ
// ("dockerfiles/NAME: what differs").
func TestDockerfileCorpus(t *testing.T) {
	dirs, err := filepath.Glob("dockerfiles/[a-z]*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no Dockerfiles in dockerfiles/: %v", err)
	}
	slots := make(chan struct{}, parallelCompares)
	for _, dir := range dirs {
		name := filepath.Base(dir)
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			slots <- struct{}{}
			defer func() { <-slots }()
			var extra []string
			if name == "target" {
				extra = []string{"--target", "second"}
			}
			buildBoth(t, newEnv(t), dir, "dockerfiles/"+name, extra...)
		})
	}
}

// ONBUILD triggers of a base image run right after its FROM.
func TestOnbuildTriggersRun(t *testing.T) {
	e := newEnv(t)
	base := uniqueRepo("onbuild-base") + ":1"
	e.gantry("build", "dockerfiles/onbuild-stage", "--build-arg", "BASE="+baseRef("amd64"), "-t", base, "--push")
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM "+base+"\nRUN cat /triggered.txt > /seen.txt\n"), 0o644)
	e.gantry("build", dir, "-t", "example.com/onbuild-child:1")
	cfg := gantryConfig(t, e, "example.com/onbuild-child:1")
	if cfg.Labels["from.onbuild"] != "yes" || len(cfg.OnBuild) != 0 {
		t.Errorf("child config: labels %v, onbuild %v (triggers must run once and not be inherited)", cfg.Labels, cfg.OnBuild)
	}
	unpacked := filepath.Join(t.TempDir(), "root")
	e.gantry("export", "example.com/onbuild-child:1", "--dir", unpacked)
	if b, _ := os.ReadFile(filepath.Join(unpacked, "seen.txt")); string(b) != "triggered\n" {
		t.Errorf("the ONBUILD RUN did not run before the child's RUN: %q", b)
	}
}

// A rebuild with nothing changed is all cache; a changed file reruns its
// COPY and what follows only; a failing RUN names the command and exit code.
func TestDockerfileCacheAndFailure(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.txt"), []byte("a"), 0o644)
	os.WriteFile(filepath.Join(dir, "b.txt"), []byte("b"), 0o644)
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM "+baseRef("amd64")+"\nCOPY a.txt /a\nRUN echo ran > /ran\nCOPY b.txt /b\nRUN cat /a /b > /ab\n"), 0o644)
	first := lastLine(e.gantry("build", dir, "-t", "example.com/cache:1"))
	_, stderr, err := e.run(nil, "--progress", "plain", "build", dir, "-t", "example.com/cache:1")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(stderr, "CACHED"); n != 4 {
		t.Errorf("unchanged rebuild: %d steps CACHED, want 4\n%s", n, stderr)
	}
	os.WriteFile(filepath.Join(dir, "b.txt"), []byte("B"), 0o644)
	out, stderr, err := e.run(nil, "--progress", "plain", "build", dir, "-t", "example.com/cache:2")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(stderr, "CACHED"); n != 2 {
		t.Errorf("after changing b.txt: %d steps CACHED, want 2 (COPY a, RUN)\n%s", n, stderr)
	}
	if lastLine(out) == first {
		t.Error("a changed file gave the same image")
	}
	// The RUN after the changed COPY saw the new content.
	root := filepath.Join(t.TempDir(), "root")
	e.gantry("export", "example.com/cache:2", "--dir", root)
	if b, _ := os.ReadFile(filepath.Join(root, "ab")); string(b) != "aB" {
		t.Errorf("/ab = %q, want aB", b)
	}
	// A folder COPY where a file changes, one is removed and one is added
	// gives the same tree as a build from nothing.
	tree := filepath.Join(dir, "tree")
	os.MkdirAll(filepath.Join(tree, "sub"), 0o755)
	os.WriteFile(filepath.Join(tree, "keep"), []byte("k"), 0o644)
	os.WriteFile(filepath.Join(tree, "sub", "change"), []byte("1"), 0o644)
	os.WriteFile(filepath.Join(tree, "sub", "remove"), []byte("r"), 0o644)
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM "+baseRef("amd64")+"\nCOPY tree /t\nRUN find /t | sort > /listing && cat /t/sub/change >> /listing\n"), 0o644)
	e.gantry("build", dir, "-t", "example.com/tree:1")
	os.WriteFile(filepath.Join(tree, "sub", "change"), []byte("2"), 0o644)
	os.Remove(filepath.Join(tree, "sub", "remove"))
	os.WriteFile(filepath.Join(tree, "added"), []byte("a"), 0o644)
	e.gantry("build", dir, "-t", "example.com/tree:2")
	fresh := newEnv(t)
	fresh.gantry("build", dir, "-t", "example.com/tree:2")
	listing := func(e *env) string {
		root := filepath.Join(t.TempDir(), "root")
		e.gantry("export", "example.com/tree:2", "--dir", root)
		b, _ := os.ReadFile(filepath.Join(root, "listing"))
		return string(b)
	}
	if got, want := listing(e), listing(fresh); got != want || !strings.Contains(got, "/t/added") || strings.Contains(got, "remove") || !strings.HasSuffix(got, "2") {
		t.Errorf("RUN after a revised COPY saw:\n%s\na build from nothing saw:\n%s", got, want)
	}
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM "+baseRef("amd64")+"\nRUN echo about to fail && exit 7\n"), 0o644)
	msg := e.gantryFails("build", dir, "-t", "example.com/fail:1")
	if !strings.Contains(msg, "exit code 7") || !strings.Contains(msg, "about to fail") || !strings.Contains(msg, "echo about to fail") {
		t.Errorf("failing RUN: %s", msg)
	}
}

// Heredocs build as BuildKit builds them (Docker 20.10's frontend had
// none), and write what they say.
func TestHeredocs(t *testing.T) {
	e := newEnv(t)
	built := buildBoth(t, e, "testdata/heredoc", "e2e/heredoc")
	root := filepath.Join(t.TempDir(), "root")
	e.gantry("export", built, "--dir", root)
	if b, _ := os.ReadFile(filepath.Join(root, "heredoc.txt")); string(b) != "from a heredoc\nsecond line\n" {
		t.Errorf("RUN <<EOT wrote %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "etc/config.ini")); string(b) != "[section]\nkey=value\n" {
		t.Errorf("COPY <<EOT wrote %q", b)
	}
}

// RUN --mount: bind from the context, a cache kept between builds and never
// in a layer, tmpfs, and a secret that reaches no layer, cache key or output.
func TestRunMounts(t *testing.T) {
	e := newEnv(t)
	secret := filepath.Join(t.TempDir(), "token")
	os.WriteFile(secret, []byte("s3cr3t-e2e-value"), 0o600)
	build := func(extra ...string) string {
		args := append([]string{"build", "testdata/run-mounts", "--build-arg", "BASE=" + baseRef("amd64"), "--secret", "id=tok,src=" + secret, "-t", "example.com/mounts:1"}, extra...)
		out, stderr, err := e.run(nil, args...)
		if err != nil {
			t.Fatalf("build: %v\n%s%s", err, out, stderr)
		}
		noSecretValue(t, out, stderr)
		root := filepath.Join(t.TempDir(), "root")
		e.gantry("export", "example.com/mounts:1", "--dir", root)
		return root
	}
	root := build()
	for file, want := range map[string]string{"from-bind.txt": "data in context\n", "cache-count.txt": "1\n", "secret-len.txt": "16\n", "net.txt": "no network\n"} {
		if b, _ := os.ReadFile(filepath.Join(root, file)); string(b) != want {
			t.Errorf("%s = %q, want %q", file, b, want)
		}
	}
	for _, gone := range []string{"mnt", "var", "scratch", "run"} {
		if _, err := os.Lstat(filepath.Join(root, gone)); err == nil {
			t.Errorf("/%s, a mount target, reached the image", gone)
		}
	}
	tar := filepath.Join(t.TempDir(), "img.tar")
	e.gantry("save", "example.com/mounts:1", "-o", tar)
	if b, _ := os.ReadFile(tar); strings.Contains(string(b), "s3cr3t-e2e-value") {
		t.Error("the secret is in the saved image")
	}
	// The cache mount outlives the build.
	root = build("--no-cache")
	if b, _ := os.ReadFile(filepath.Join(root, "cache-count.txt")); string(b) != "2\n" {
		t.Errorf("second build's cache count = %q, want 2", b)
	}
}

func noSecretValue(t *testing.T, outputs ...string) {
	t.Helper()
	for _, o := range outputs {
		if strings.Contains(o, "s3cr3t-e2e-value") {
			t.Fatalf("the secret appears in the output")
		}
	}
}

// Where overlayfs cannot be mounted, RUN works on a copy of the root
// filesystem and the changes are found by comparing trees: the images are
// the same as Docker's all the same.
func TestRunWithoutOverlay(t *testing.T) {
	e := newEnv(t)
	e.extra = []string{"GANTRY_SANDBOX_NO_OVERLAY=1"}
	for _, name := range []string{"run-whiteouts", "user-by-name"} {
		t.Run(name, func(t *testing.T) {
			e := &env{t: t, root: e.root, config: e.config, docker: e.docker, extra: e.extra}
			buildBoth(t, e, filepath.Join("dockerfiles", name), "e2e/"+name+"-copy")
		})
	}
	_, stderr, err := e.run(nil, "build", "dockerfiles/run-whiteouts", "--no-cache", "--build-arg", "BASE="+baseRef("amd64"), "-t", "example.com/copy:1")
	if err != nil || !strings.Contains(stderr, "overlayfs is not available") {
		t.Errorf("the fallback was not announced: %v\n%s", err, stderr)
	}
}

// --cache-to pushes each step's result to a registry repository;
// --cache-from in a fresh store (another CI runner) takes them from there.
func TestRegistryBuildCache(t *testing.T) {
	repo := uniqueRepo("buildcache")
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.txt"), []byte("a"), 0o644)
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM "+baseRef("amd64")+"\nCOPY a.txt /a\nRUN echo ran > /ran\n"), 0o644)
	first := newEnv(t)
	d1 := lastLine(first.gantry("build", dir, "--cache-to", repo, "-t", "example.com/cached:1"))
	second := newEnv(t)
	out, stderr, err := second.run(nil, "--progress", "plain", "build", dir, "--cache-from", "type=registry,ref="+repo, "-t", "example.com/cached:1")
	if err != nil {
		t.Fatalf("build with --cache-from: %v\n%s", err, stderr)
	}
	if n := strings.Count(stderr, "CACHED (from "+repo+")"); n != 2 {
		t.Errorf("%d steps came from the registry cache, want 2:\n%s", n, stderr)
	}
	if lastLine(out) != d1 {
		t.Errorf("the cached build gave %q, the first %q", lastLine(out), d1)
	}
}

// A COPY-only Dockerfile builds for several platforms into one index; RUN
// for a platform the host cannot execute fails with a clear line.
func TestDockerfileMultiPlatform(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "f.txt"), []byte("f"), 0o644)
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM "+baseRef("multi")+"\nARG TARGETARCH\nCOPY f.txt /f-$TARGETARCH.txt\nCMD [\"/bin/sh\"]\n"), 0o644)
	dest := uniqueRepo("dfmulti") + ":1"
	e.gantry("--platform", "linux/amd64,linux/arm64", "build", dir, "-t", dest, "--push")
	raw := sh(t, "skopeo", "inspect", "--raw", "--tls-verify=false", "docker://"+dest)
	if strings.Count(raw, `"architecture"`) != 2 {
		t.Fatalf("pushed index:\n%s", raw)
	}
	root := filepath.Join(t.TempDir(), "arm")
	e.gantry("export", "--platform", "linux/arm64", dest, "--dir", root)
	if _, err := os.Stat(filepath.Join(root, "f-arm64.txt")); err != nil {
		t.Errorf("the arm64 image lacks f-arm64.txt: %v", err)
	}

	// RUN for arm64 on this amd64 host goes through qemu, which .ci/run
	// registers with binfmt_misc, as docker buildx setups do.
	if _, err := os.Stat("/proc/sys/fs/binfmt_misc/qemu-aarch64"); err != nil {
		t.Fatal("no qemu-aarch64 binfmt_misc handler: .ci/run registers one (package qemu-user-static)")
	}
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM "+baseRef("multi")+"\nRUN uname -m > /arch\n"), 0o644)
	// One build for both platforms: amd64 natively, arm64 under qemu, one
	// index; Docker runs each platform's image.
	armTag := uniqueRepo("armrun") + ":1"
	_, stderr, err := e.run(nil, "--platform", "linux/amd64,linux/arm64", "build", dir, "-t", armTag, "--push")
	if err != nil {
		t.Fatalf("RUN for amd64 and arm64: %v\n%s", err, stderr)
	}
	if !strings.Contains(stderr, "runs under emulation (qemu-aarch64)") {
		t.Errorf("the build did not say it emulates:\n%s", stderr)
	}
	root = filepath.Join(t.TempDir(), "armrun")
	e.gantry("export", "--platform", "linux/arm64", armTag, "--dir", root)
	if b, _ := os.ReadFile(filepath.Join(root, "arch")); string(b) != "aarch64\n" {
		t.Errorf("uname -m in the arm64 RUN printed %q", b)
	}
	for p, want := range map[string]string{"linux/amd64": "x86_64\n", "linux/arm64": "aarch64\n"} {
		if got := sh(t, "docker", "run", "--rm", "--network", "none", "--platform", p, armTag, "cat", "/arch"); got != want {
			t.Errorf("docker run --platform %s of the index: %q, want %q", p, got, want)
		}
		shErr("docker", "rmi", "-f", armTag) // the next platform is pulled afresh
	}

	// A platform no emulator is registered for fails with a line that says
	// what to install.
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\nRUN true\n"), 0o644)
	if msg := e.gantryFails("--platform", "linux/riscv64", "build", dir, "-t", "example.com/riscv:1"); !strings.Contains(msg, "cannot RUN for linux/riscv64") || !strings.Contains(msg, "qemu-user-static") {
		t.Errorf("RUN for riscv64: %s", msg)
	}
}

// RUN --mount=type=ssh forwards an ssh-agent socket as BuildKit does: at
// /run/buildkit/ssh_agent.N with SSH_AUTH_SOCK set, or at a target; the
// images equal Docker's, and a required agent that is not given fails
// with a line saying which flag to add.
func TestRunMountSSH(t *testing.T) {
	e := newEnv(t)
	sockDir, err := os.MkdirTemp("", "gantry-ssh-") // short: a socket path has a length limit
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	sock := filepath.Join(sockDir, "agent.sock")
	agent := exec.Command("ssh-agent", "-D", "-a", sock)
	if err := agent.Start(); err != nil {
		t.Fatalf("ssh-agent: %v", err)
	}
	t.Cleanup(func() { agent.Process.Kill(); agent.Wait() })
	for i := 0; i < 50; i++ {
		if fi, err := os.Stat(sock); err == nil && fi.Mode()&os.ModeSocket != 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	dir := t.TempDir()
	// /run/buildkit is made first: Docker 20.10's BuildKit leaves the
	// directories it creates for mountpoints in the layer, BuildKit 0.13 and
	// later (and gantry) remove them.
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(`ARG BASE
FROM $BASE
RUN mkdir -p /run/buildkit
RUN --mount=type=ssh [ -S "$SSH_AUTH_SOCK" ] && echo "$SSH_AUTH_SOCK" > /agent.txt
RUN --mount=type=ssh,id=other,target=/tmp/other.sock [ -S /tmp/other.sock ] && echo other >> /agent.txt
RUN --mount=type=ssh,id=absent echo "absent: $SSH_AUTH_SOCK $([ -S /run/buildkit/ssh_agent.0 ] && echo socket || echo none)" >> /agent.txt
`), 0o644)
	built := buildBoth(t, e, dir, "e2e/run-mount-ssh", "--ssh", "default="+sock, "--ssh", "other="+sock)
	root := filepath.Join(t.TempDir(), "root")
	e.gantry("export", built, "--dir", root)
	if b, _ := os.ReadFile(filepath.Join(root, "agent.txt")); string(b) != "/run/buildkit/ssh_agent.0\nother\nabsent: /run/buildkit/ssh_agent.0 none\n" {
		t.Errorf("agent.txt = %q", b)
	}
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM "+baseRef("amd64")+"\nRUN --mount=type=ssh,required=true true\n"), 0o644)
	if msg := e.gantryFails("build", dir, "-t", "example.com/ssh-required:1"); !strings.Contains(msg, `ssh agent "default" is required: give --ssh default`) {
		t.Errorf("a required agent not given: %s", msg)
	}
}

// docker build --label sets labels on the final image, over the
// Dockerfile's; gantry's image config equals Docker's. Flags of builds from
// flags are refused in a Dockerfile build, not silently dropped.
func TestBuildLabelFlag(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("ARG BASE\nFROM $BASE\nLABEL a=from-dockerfile b=kept\n"), 0o644)
	cfg := gantryConfig(t, e, buildBoth(t, e, dir, "e2e/label-flag", "--label", "a=from-flag", "--label", "c=new"))
	if fmt.Sprint(cfg.Labels) != "map[a:from-flag b:kept c:new]" {
		t.Errorf("labels = %v", cfg.Labels)
	}
	if msg := e.gantryFails("build", dir, "--build-arg", "BASE="+baseRef("amd64"), "--entrypoint", "/x", "-t", "example.com/df/x:1"); !strings.Contains(msg, "--entrypoint applies to builds from flags") {
		t.Errorf("--entrypoint in a Dockerfile build: %s", msg)
	}
}

// --network none cuts RUN steps off as docker build --network none does
// (only the loopback interface), and --iidfile writes the image ID.
func TestBuildNetworkAndIIDFile(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("ARG BASE\nFROM $BASE\nRUN /bin/busybox awk -F: 'NR>2 {print $1}' /proc/net/dev > /ifaces\n"), 0o644)
	built := buildBoth(t, e, dir, "e2e/network-flag", "--network", "none")
	root := filepath.Join(t.TempDir(), "root")
	e.gantry("export", built, "--dir", root)
	if b, _ := os.ReadFile(filepath.Join(root, "ifaces")); strings.TrimSpace(string(b)) != "lo" {
		t.Errorf("interfaces with --network none: %q", b)
	}
	iid := filepath.Join(t.TempDir(), "iid")
	e.gantry("build", dir, "--build-arg", "BASE="+baseRef("amd64"), "--network", "none", "-t", "example.com/df/network-flag:1", "--iidfile", iid)
	var report struct{ ID string }
	if err := json.Unmarshal([]byte(e.gantry("inspect", "--format", "json", "example.com/df/network-flag:1")), &report); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(iid); report.ID == "" || string(b) != report.ID {
		t.Errorf("--iidfile wrote %q, the image ID is %q", b, report.ID)
	}
}

// --pull looks for a newer base than the stored one, as docker build
// --pull does; without it the stored base is used.
func TestBuildPullRefreshesBase(t *testing.T) {
	e, other := newEnv(t), newEnv(t)
	tag := uniqueRepo("pullbase") + ":1"
	version := func(env *env, v string) {
		f := filepath.Join(t.TempDir(), "v.txt")
		os.WriteFile(f, []byte(v), 0o644)
		env.gantry("build", "--from", baseRef("amd64"), "--add", f+":/v.txt", "-t", tag, "--push")
	}
	version(e, "1")
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM "+tag+"\nRUN cat /v.txt > /seen.txt\n"), 0o644)
	seen := func(args ...string) string {
		e.gantry(append([]string{"build", dir, "-t", "example.com/pulled:1"}, args...)...)
		root := filepath.Join(t.TempDir(), "root")
		e.gantry("export", "example.com/pulled:1", "--dir", root)
		b, _ := os.ReadFile(filepath.Join(root, "seen.txt"))
		return string(b)
	}
	if got := seen(); got != "1" {
		t.Fatalf("first build saw %q", got)
	}
	version(other, "2") // pushed from another store: this one still holds 1
	if got := seen(); got != "1" {
		t.Errorf("without --pull the stored base was not used: %q", got)
	}
	if got := seen("--pull"); got != "2" {
		t.Errorf("with --pull the newer base was not used: %q", got)
	}
	if msg := e.gantryFails("build", "--from", baseRef("amd64"), "--add", dir+":/x", "--pull", "-t", "example.com/x:1"); !strings.Contains(msg, "--pull applies to Dockerfile builds") {
		t.Errorf("--pull with --from: %s", msg)
	}
}

// Two builds at once on one store share a RUN cache mount as it says:
// sharing=locked lets one step in at a time.
func TestCacheMountSharingLocked(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM "+baseRef("amd64")+"\nARG WHO\n"+
		"RUN --mount=type=cache,id=locked-test,target=/c,sharing=locked sh -c 'echo \"$WHO start\" >> /c/log; /bin/busybox sleep 1; echo \"$WHO end\" >> /c/log'\n"), 0o644)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, who := range []string{"a", "b"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, stderr, err := e.run(nil, "build", dir, "--build-arg", "WHO="+who, "-t", "example.com/locked-"+who+":1")
			if err != nil {
				errs[i] = fmt.Errorf("%v: %s", err, stderr)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM "+baseRef("amd64")+"\nRUN --mount=type=cache,id=locked-test,target=/c cat /c/log > /log\n"), 0o644)
	e.gantry("build", dir, "-t", "example.com/locked-log:1")
	root := filepath.Join(t.TempDir(), "root")
	e.gantry("export", "example.com/locked-log:1", "--dir", root)
	b, _ := os.ReadFile(filepath.Join(root, "log"))
	if got := string(b); got != "a start\na end\nb start\nb end\n" && got != "b start\nb end\na start\na end\n" {
		t.Errorf("the locked cache was used by both steps at once:\n%s", got)
	}
}

// --add-host puts a name in the /etc/hosts of RUN steps, as docker build
// --add-host does; the host's own file is not changed.
func TestBuildAddHost(t *testing.T) {
	e := newEnv(t)
	before, _ := os.ReadFile("/etc/hosts")
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("ARG BASE\nFROM $BASE\nRUN /bin/busybox grep gantry-added /etc/hosts > /added.txt\n"), 0o644)
	buildBoth(t, e, dir, "e2e/add-host", "--add-host", "gantry-added:10.1.2.3")
	if after, _ := os.ReadFile("/etc/hosts"); !bytes.Equal(before, after) {
		t.Error("the host's /etc/hosts changed")
	}
	if msg := e.gantryFails("build", dir, "--build-arg", "BASE="+baseRef("amd64"), "--add-host", "bad", "-t", "example.com/x:1"); !strings.Contains(msg, "invalid --add-host") {
		t.Errorf("a bad --add-host: %s", msg)
	}
}

// Docker runs a COPY --link image as gantry's RUN saw it: the layer's file
// over the image's folder, its folders over the image's links and
// modes (dockerfiles/copy-link-merge, whose last RUN wrote what it saw).
func TestDockerRunsALinkedCopyAsBuilt(t *testing.T) {
	e := newEnv(t)
	tag := "gantry-e2e/copy-link:1"
	archive := filepath.Join(t.TempDir(), "link.tar")
	e.gantry("build", "dockerfiles/copy-link-merge", "--build-arg", "BASE="+baseRef("amd64"), "-t", tag, "-o", "type=docker,dest="+archive)
	sh(t, "docker", "load", "-i", archive)
	t.Cleanup(func() { shErr("docker", "rmi", "-f", tag) })
	script := `for p in /data /app /rel /opt /newdir /keepdir /data2 /app2 /owned; do /bin/busybox find $p | /bin/busybox sort | while read f; do /bin/busybox stat -c '%n %F %a %u:%g' "$f"; done; done`
	seenByDocker := sh(t, "docker", "run", "--rm", "--network", "none", "--user", "0", tag, "/bin/sh", "-c", script)
	seenAtBuild := sh(t, "docker", "run", "--rm", "--network", "none", tag, "/bin/busybox", "cat", "/seen.txt")
	if seenByDocker != seenAtBuild {
		t.Errorf("docker run sees:\n%s\nthe build's RUN saw:\n%s", seenByDocker, seenAtBuild)
	}
	if !strings.Contains(seenByDocker, "/data regular file") || !strings.Contains(seenByDocker, "/app directory 755 0:0") {
		t.Errorf("the --link layers are not over the image's folder and link:\n%s", seenByDocker)
	}
}
