package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Without root and without subordinate ids, gantry maps only the caller's
// id into the sandbox: the RUN cases that stay root build as BuildKit
// builds them.
func TestRootlessRun(t *testing.T) {
	e := rootlessSuite(t, "gantry-e2e", false, []string{"env-arg", "stage-chain", "dir-perms", "run-exec-form", "expand-forms", "multistage", "run-keeps-owner"})
	// A RUN as another user cannot switch ids: the error says what to grant.
	dir := filepath.Join(filepath.Dir(e.root), "ctx", "run-as-1000")
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM "+baseRef("amd64")+"\nUSER 1000\nRUN true\n"), 0o644)
	msg := e.gantryFails("build", dir, "-t", "example.com/rootless/u:1")
	if !strings.Contains(msg, "needs root or subordinate ids") || !strings.Contains(msg, "/etc/subuid") {
		t.Errorf("RUN as a user without subordinate ids: %s", msg)
	}
	// gantry run -t makes its terminal in the sandbox's devpts rootless too.
	if out := e.gantry("run", "--rm", "-t", "--network", "none", baseRef("amd64"), "busybox", "tty"); !regexp.MustCompile(`^/dev/pts/\d+\r\n$`).MatchString(out) {
		t.Errorf("rootless run -t printed %q, want the sandbox's terminal", out)
	}
}

// With a range in /etc/subuid and /etc/subgid, an unprivileged gantry runs
// in a user namespace of its own (newuidmap): layers keep their owners, RUN
// switches to the Dockerfile's USER, and every RUN case of the corpus builds
// as BuildKit builds it, owners included.
func TestRootlessSubordinateIDs(t *testing.T) {
	if _, err := exec.LookPath("newuidmap"); err != nil {
		t.Fatal("newuidmap is missing (Debian package uidmap)")
	}
	var cases []string
	entries, err := os.ReadDir("dockerfiles")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range entries {
		if b, err := os.ReadFile(filepath.Join("dockerfiles", d.Name(), "Dockerfile")); err == nil && regexp.MustCompile(`(?m)^RUN`).Match(b) {
			cases = append(cases, d.Name())
		}
	}
	if len(cases) < 10 {
		t.Fatalf("only %d RUN cases in the corpus", len(cases))
	}
	e := rootlessSuite(t, "gantry-e2e-sub", true, cases)
	// The unpacked trees hold files of subordinate ids that the user could
	// not remove outside the namespace; prune, run by the user, does.
	e.gantry("prune")
	if out := sh(t, "find", e.root, "-not", "-user", "gantry-e2e-sub"); strings.TrimSpace(out) != "" {
		t.Errorf("after prune the store still holds files of other ids:\n%s", out)
	}
}

// rootlessSuite builds the named corpus cases as an unprivileged user, with
// or without a subordinate id range, and compares each with BuildKit's build.
func rootlessSuite(t *testing.T, user string, subids bool, cases []string) *env {
	u := rootlessUser(t, user, subids)
	home, e := u.home, u.env
	sh(t, "cp", "-a", "dockerfiles/.", filepath.Join(home, "ctx"))
	sh(t, "chown", "-R", u.uid+":"+u.gid, filepath.Join(home, "ctx"))
	for _, name := range cases {
		t.Run(name, func(t *testing.T) {
			e := &env{t: t, root: e.root, config: e.config, docker: e.docker, asUser: e.asUser}
			buildBoth(t, e, filepath.Join(home, "ctx", name), "dockerfiles/"+name)
		})
	}
	return e
}

// rootless is an unprivileged user set up for gantry: a home holding a
// copy of gantry, the store, the configs, ctx/ and out/, all the user's.
type rootless struct {
	home, uid, gid string
	env            *env
}

// rootlessUser makes (or reuses) user, grants or takes away its
// subordinate ids, and makes gantryBin the user's copy until the test ends.
func rootlessUser(t *testing.T, user string, subids bool) *rootless {
	if os.Geteuid() != 0 {
		t.Fatal("this test creates an unprivileged user and needs root (CI runs as root)")
	}
	usableTun(t) // RUN's default network: rootless pasta opens /dev/net/tun
	if _, err := shErr("id", user); err != nil {
		sh(t, "useradd", "--no-create-home", "--shell", "/bin/false", user)
	}
	u := &rootless{uid: strings.TrimSpace(sh(t, "id", "-u", user)), gid: strings.TrimSpace(sh(t, "id", "-g", user))}
	setSubordinateRange(t, "/etc/subuid", user, subids)
	setSubordinateRange(t, "/etc/subgid", user, subids)
	home, err := os.MkdirTemp("", "gantry-rootless-") // t.TempDir's parent is 0700
	if err != nil {
		t.Fatal(err)
	}
	u.home = home
	t.Cleanup(func() { os.RemoveAll(home) })
	os.Chmod(home, 0o755)
	bin := filepath.Join(home, "gantry")
	b, err := os.ReadFile(gantryBin)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(bin, b, 0o755)
	for _, d := range []string{"root", "config", "docker", "ctx", "out"} {
		os.MkdirAll(filepath.Join(home, d), 0o755)
	}
	sh(t, "chown", "-R", u.uid+":"+u.gid, home)
	u.env = &env{t: t, root: filepath.Join(home, "root"), config: filepath.Join(home, "config"), docker: filepath.Join(home, "docker"),
		asUser: []string{"setpriv", "--reuid=" + u.uid, "--regid=" + u.gid, "--clear-groups", "--"}}
	saved := gantryBin
	gantryBin = bin
	t.Cleanup(func() { gantryBin = saved })
	if out, _, _ := u.env.run(nil, "--help"); !strings.Contains(out, "gantry") {
		t.Fatalf("gantry does not run as %s", user)
	}
	return u
}

// setSubordinateRange grants user a range of 65536 ids in file (or takes
// its range away), as useradd does with SUB_UID_COUNT.
func setSubordinateRange(t *testing.T, file, user string, grant bool) {
	raw, _ := os.ReadFile(file)
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		if l != "" && !strings.HasPrefix(l, user+":") {
			lines = append(lines, l)
		}
	}
	if grant {
		lines = append(lines, user+":300000:65536")
	}
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}
