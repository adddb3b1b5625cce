package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The seed scenario: from the base, run a script that writes a page and a
// start script, set CMD, commit, push; Docker pulls and runs it.
func TestWorkingContainerCommit(t *testing.T) {
	e := newEnv(t)
	c := strings.TrimSpace(e.gantry("from", baseRef("amd64")))
	if c != "busybox-working-container" {
		t.Errorf("container name %q", c)
	}
	e.gantry("run", c, "--", "/bin/sh", "-c", "mkdir -p /www && echo '<h1>made by hand</h1>' > /www/index.html && printf '#!/bin/sh\\ncat /www/index.html\\n' > /start.sh && chmod 755 /start.sh && rm /bin/ls")
	page := filepath.Join(t.TempDir(), "extra.html")
	os.WriteFile(page, []byte("extra\n"), 0o644)
	e.gantry("cp", page, c+":/www/")
	out := filepath.Join(t.TempDir(), "back.html")
	e.gantry("cp", c+":/www/index.html", out)
	if b, _ := os.ReadFile(out); string(b) != "<h1>made by hand</h1>\n" {
		t.Errorf("cp out: %q", b)
	}
	diff := e.gantry("diff", c)
	for _, want := range []string{"A /www/index.html", "A /www/extra.html", "A /start.sh", "D /bin/ls", "C /bin"} {
		if !strings.Contains(diff, want) {
			t.Errorf("diff lacks %q:\n%s", want, diff)
		}
	}
	if ps := e.gantry("ps"); !strings.Contains(ps, c) {
		t.Errorf("ps:\n%s", ps)
	}
	// The container keeps its base through rmi and prune (its unpacked tree
	// is a cache and comes back).
	e.gantry("rmi", baseRef("amd64"))
	e.gantry("prune")
	dest := uniqueRepo("handmade") + ":1"
	e.gantry("commit", c, dest, "--change", `CMD ["/start.sh"]`, "-m", "by hand", "--push")
	sh(t, "docker", "pull", dest)
	t.Cleanup(func() { shErr("docker", "rmi", "-f", dest) })
	if got := sh(t, "docker", "run", "--rm", "--network", "none", dest); got != "<h1>made by hand</h1>\n" {
		t.Errorf("docker run of the commit printed %q", got)
	}
	// The deletion is a whiteout Docker honours.
	if _, err := shErr("docker", "run", "--rm", "--network", "none", "--entrypoint", "/bin/ls", dest); err == nil {
		t.Error("/bin/ls, deleted in the container, still runs in the committed image")
	}
	e.gantry("rm", c)
	if msg := e.gantryFails("run", c, "--", "true"); !strings.Contains(msg, "no such container") {
		t.Errorf("run after rm: %s", msg)
	}
}

// gantry diff of a working container lists what docker diff lists for a
// container that did the same.
func TestContainerDiffMatchesDocker(t *testing.T) {
	script := "mkdir -p /opt/a/b && echo x > /opt/a/b/f && rm /bin/cat && echo y > /bin/new"
	name := "gantry-e2e-cdiff"
	shErr("docker", "rm", "-f", name)
	sh(t, "docker", "run", "--name", name, "--network", "none", baseRef("amd64"), "/bin/sh", "-c", script)
	t.Cleanup(func() { shErr("docker", "rm", "-f", name) })
	want := sortedLines(sh(t, "docker", "diff", name))
	e := newEnv(t)
	c := strings.TrimSpace(e.gantry("from", baseRef("amd64"), "--name", "cdiff"))
	e.gantry("run", c, "--", "/bin/sh", "-c", script)
	got := sortedLines(e.gantry("diff", c))
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("gantry diff:\n%s\ndocker diff:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// An interactive shell on a pseudo-terminal: what is typed changes the
// container, and the commit has it.
func TestInteractiveRun(t *testing.T) {
	e := newEnv(t)
	c := strings.TrimSpace(e.gantry("from", baseRef("amd64"), "--name", "tty"))
	// script(1) gives gantry a pseudo-terminal and types the piped lines.
	cmd := exec.Command("script", "-qec", gantryBin+" run -it "+c+" -- /bin/sh", "/dev/null")
	cmd.Env = e.environ()
	cmd.Stdin = strings.NewReader("echo typed-in > /typed.txt\nexit\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("interactive run: %v\n%s", err, out)
	}
	e.gantry("commit", c, "example.com/tty:1")
	root := filepath.Join(t.TempDir(), "root")
	e.gantry("export", "example.com/tty:1", "--dir", root)
	if b, _ := os.ReadFile(filepath.Join(root, "typed.txt")); string(b) != "typed-in\n" {
		t.Errorf("typed.txt = %q", b)
	}
}

func TestWorkingContainerBadInput(t *testing.T) {
	e := newEnv(t)
	if msg := e.gantryFails("commit", "nope", "x:1"); !strings.Contains(msg, "no such container: nope") {
		t.Errorf("commit of a missing container: %s", msg)
	}
	c := strings.TrimSpace(e.gantry("from", baseRef("amd64"), "--name", "bad"))
	_, stderr, err := e.run(nil, "run", c, "--", "no-such-command")
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 127 || !strings.Contains(stderr, "no-such-command: command not found") {
		t.Errorf("missing command: %v %q", err, stderr)
	}
	if _, _, err := e.run(nil, "run", c, "--", "/bin/sh", "-c", "exit 3"); err == nil || err.(*exec.ExitError).ExitCode() != 3 {
		t.Errorf("exit code not passed on: %v", err)
	}
	if msg := e.gantryFails("cp", "/etc/hostname", c+":../../../etc/evil"); !strings.Contains(msg, "above its root") {
		t.Errorf("cp escaping the root: %s", msg)
	}
	// A second run while one runs refuses at once. The first marks in its
	// layer that it has started (and so holds the container).
	slow := exec.Command(gantryBin, "run", c, "--", "/bin/sh", "-c", "echo > /started; sleep 3")
	slow.Env = e.environ()
	if err := slow.Start(); err != nil {
		t.Fatal(err)
	}
	defer slow.Wait()
	waitFor(t, func() bool {
		_, err := os.Stat(filepath.Join(e.root, "containers", c, "upper", "started"))
		return err == nil
	})
	if _, stderr, err := e.run(nil, "run", c, "--", "true"); err == nil || !strings.Contains(stderr, "busy") {
		t.Errorf("a second run at once: %v %q", err, stderr)
	}
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	for i := 0; i < 100; i++ {
		if ok() {
			return
		}
		exec.Command("sleep", "0.1").Run()
	}
	t.Error("condition never held")
}

// gantry run starts its process as RUN does and as docker run does: the
// user's uid and gid from the image's /etc/passwd, its supplementary groups
// from /etc/group, HOME from its entry, a default PATH; Docker agrees.
func TestRunProcessIsDockers(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("ARG BASE\nFROM $BASE\n"+
		"RUN mkdir -p /etc /home/app && echo 'root:x:0:0::/root:/bin/sh' > /etc/passwd && echo 'app:x:1000:1000::/home/app:/bin/sh' >> /etc/passwd && "+
		"echo 'root:x:0:' > /etc/group && echo 'app:x:1000:' >> /etc/group && echo 'extra:x:2000:app' >> /etc/group && echo 'other:x:3000:root' >> /etc/group && busybox chown 1000:1000 /home/app\n"+
		"USER app\nRUN busybox id -G > /home/app/run-groups && echo $HOME > /home/app/run-home\n"), 0o644)
	ref := uniqueRepo("run-process") + ":1"
	e.gantry("build", dir, "--build-arg", "BASE="+baseRef("amd64"), "-t", ref, "--push")
	probe := `busybox id -u; busybox id -G; echo "$HOME $PATH"; cat /home/app/run-groups /home/app/run-home`
	got := e.gantry("run", "--rm", ref, "sh", "-c", probe)
	sh(t, "docker", "pull", "-q", ref)
	t.Cleanup(func() { shErr("docker", "rmi", "-f", ref) })
	want := sh(t, "docker", "run", "--rm", "--network", "none", ref, "sh", "-c", probe)
	if got != want {
		t.Errorf("gantry run:\n%s\ndocker run:\n%s", got, want)
	}
	if !strings.HasPrefix(want, "1000\n1000 2000\n/home/app ") {
		t.Errorf("docker run does not show the process this test expects:\n%s", want)
	}
	// Another user given with -u, as docker run -u.
	got = e.gantry("run", "--rm", "-u", "root", ref, "busybox", "id", "-G")
	if want := sh(t, "docker", "run", "--rm", "--network", "none", "-u", "root", ref, "busybox", "id", "-G"); got != want {
		t.Errorf("-u root: gantry run %q, docker run %q", got, want)
	}
}
