package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// A real distribution, end to end: a Debian root filesystem made by
// debootstrap is imported, a Dockerfile runs apt-get in it (network,
// setuid/setgid dropping by apt, maintainer scripts, useradd) as root and
// as an unprivileged user with subordinate ids, and Docker runs both images.
func TestDebianAptBuild(t *testing.T) {
	if _, err := exec.LookPath("debootstrap"); err != nil {
		t.Fatal("debootstrap is missing (Debian package debootstrap; .ci/run installs it)")
	}
	root := os.Getenv("GANTRY_E2E_DEBOOTSTRAP") // a tree made before, to spare the download
	if root == "" {
		root = filepath.Join(t.TempDir(), "bookworm")
		sh(t, "debootstrap", "--variant=minbase", "bookworm", root, "http://deb.debian.org/debian")
	}
	e := newEnv(t)
	e.gantry("import", root, "-t", "example.com/debian:bookworm", "--change", `CMD ["bash"]`)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(`FROM example.com/debian:bookworm
RUN apt-get update && apt-get install -y --no-install-recommends hello && rm -rf /var/lib/apt/lists/*
RUN useradd -m app
USER app
WORKDIR /home/app
RUN hello > greeting.txt && id -un > user.txt
CMD ["hello"]
`), 0o644)

	check := func(t *testing.T, tag, archive string) {
		t.Helper()
		sh(t, "docker", "load", "-i", archive)
		t.Cleanup(func() { shErr("docker", "rmi", "-f", tag) })
		if got := sh(t, "docker", "run", "--rm", "--network", "none", tag); !strings.Contains(got, "Hello, world!") {
			t.Errorf("docker run %s: %q", tag, got)
		}
		got := sh(t, "docker", "run", "--rm", "--network", "none", tag, "sh", "-c", "cat user.txt greeting.txt; stat -c '%U:%G' /home/app /etc/shadow")
		if want := "app\nHello, world!\napp:app\nroot:shadow\n"; got != want {
			t.Errorf("in %s: %q, want %q", tag, got, want)
		}
	}

	t.Run("root", func(t *testing.T) {
		e := &env{t: t, root: e.root, config: e.config, docker: e.docker}
		e.gantry("build", dir, "-t", "example.com/debian-hello:root")
		archive := filepath.Join(t.TempDir(), "root.tar")
		e.gantry("save", "example.com/debian-hello:root", "-o", archive)
		check(t, "example.com/debian-hello:root", archive)
	})

	t.Run("rootless", func(t *testing.T) {
		base := filepath.Join(t.TempDir(), "base.tar")
		(&env{t: t, root: e.root, config: e.config, docker: e.docker}).gantry("save", "example.com/debian:bookworm", "-o", base)
		u := rootlessUser(t, "gantry-e2e-sub", true)
		sh(t, "cp", "-r", dir, filepath.Join(u.home, "ctx", "debian"))
		sh(t, "cp", base, filepath.Join(u.home, "out", "base.tar"))
		sh(t, "chown", "-R", u.uid+":"+u.gid, u.home)
		u.env.gantry("load", "-i", filepath.Join(u.home, "out", "base.tar"))
		u.env.gantry("build", filepath.Join(u.home, "ctx", "debian"), "-t", "example.com/debian-hello:rootless")
		archive := filepath.Join(u.home, "out", "rootless.tar")
		u.env.gantry("save", "example.com/debian-hello:rootless", "-o", archive)
		check(t, "example.com/debian-hello:rootless", archive)
	})
}
