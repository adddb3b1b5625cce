package e2e

import (
	"archive/tar"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type fileInfo struct {
	typ      byte
	mode     int64
	uid, gid int
	link     string
	sum      string
}

// readTar lists a root filesystem tar, path → what it is. Hard links are
// compared by their content (tools disagree on which name is the link).
func readTar(t *testing.T, path string) map[string]fileInfo {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]fileInfo{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(h.Name, "./"), "/"), "/")
		if name == "" || name == "." {
			continue
		}
		fi := fileInfo{typ: h.Typeflag, mode: h.Mode & 0o7777, uid: h.Uid, gid: h.Gid}
		switch h.Typeflag {
		case tar.TypeSymlink:
			fi.link = h.Linkname
		case tar.TypeLink:
			fi.typ, fi.link = tar.TypeReg, "" // content checked through the first name
		case tar.TypeReg:
			s := sha256.New()
			io.Copy(s, tr)
			fi.sum = fmt.Sprintf("%x", s.Sum(nil))
		}
		out[name] = fi
	}
}

// dockerOnly are the paths Docker itself adds to a container.
func dockerOnly(name string) bool {
	for _, p := range []string{".dockerenv", "etc/hosts", "etc/hostname", "etc/resolv.conf", "etc/mtab", "dev", "proc", "sys"} {
		if name == p || strings.HasPrefix(name, p+"/") {
			return true
		}
	}
	return name == "etc"
}

// An image whose layers delete files (whiteouts) and replace a directory
// (opaque), made by docker build, is exported by gantry exactly as docker
// export of a container shows it.
func TestExportMatchesDockerExport(t *testing.T) {
	ctx := t.TempDir()
	dockerfile := fmt.Sprintf(`FROM %s
RUN mkdir -p /opt/app/sub && echo one > /opt/app/sub/f && echo keep > /opt/keep && ln -s /opt/keep /opt/link && rm /bin/cat && chmod 4755 /opt/keep
RUN rm -rf /opt/app && mkdir -p /opt/app && echo two > /opt/app/g && rm /opt/link && ln /opt/keep /opt/hard && chown 12:34 /opt/app/g
`, baseRef("amd64"))
	os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte(dockerfile), 0o644)
	ref := uniqueRepo("whiteouts") + ":1"
	sh(t, "docker", "build", "--network", "none", "-t", ref, ctx)
	sh(t, "docker", "push", ref)
	t.Cleanup(func() { shErr("docker", "rmi", "-f", ref) })
	container := strings.TrimSpace(sh(t, "docker", "create", ref))
	t.Cleanup(func() { shErr("docker", "rm", "-f", container) })
	dir := t.TempDir()
	want := filepath.Join(dir, "docker.tar")
	sh(t, "docker", "export", "-o", want, container)

	e := newEnv(t)
	got := filepath.Join(dir, "gantry.tar")
	e.gantry("export", ref, "-o", got)
	wantTree := readTar(t, want)
	if _, ok := wantTree["opt/app/g"]; !ok || wantTree["opt/keep"].mode&0o4000 == 0 {
		t.Fatalf("docker export does not show the test's changes: %v", wantTree["opt/keep"])
	}
	compareTrees(t, wantTree, readTar(t, got))

	// --dir and -o type=local give the same tree on disk.
	unpacked := filepath.Join(dir, "unpacked")
	e.gantry("export", ref, "--dir", unpacked)
	for _, p := range []string{"opt/app/g", "opt/keep", "opt/hard", "bin/busybox"} {
		if _, err := os.Lstat(filepath.Join(unpacked, p)); err != nil {
			t.Errorf("--dir: %v", err)
		}
	}
	for _, p := range []string{"opt/app/sub", "opt/link", "bin/cat"} {
		if _, err := os.Lstat(filepath.Join(unpacked, p)); err == nil {
			t.Errorf("--dir: %s should be deleted", p)
		}
	}
	a, _ := os.Stat(filepath.Join(unpacked, "opt/keep"))
	b, _ := os.Stat(filepath.Join(unpacked, "opt/hard"))
	if !os.SameFile(a, b) {
		t.Error("--dir: opt/hard is not a hard link to opt/keep")
	}
	if a.Mode()&os.ModeSetuid == 0 {
		t.Errorf("--dir: setuid bit lost on opt/keep: %v", a.Mode())
	}
	local := filepath.Join(dir, "local")
	e.gantry("mutate", ref, "--change", "CMD [\"true\"]", "-o", "type=local,dest="+local)
	if _, err := os.Stat(filepath.Join(local, "opt/app/g")); err != nil {
		t.Errorf("-o type=local: %v", err)
	}
}

func compareTrees(t *testing.T, want, got map[string]fileInfo) {
	t.Helper()
	for name, w := range want {
		if dockerOnly(name) {
			continue
		}
		g, ok := got[name]
		if !ok {
			t.Errorf("gantry export lacks %s", name)
			continue
		}
		if g != w {
			t.Errorf("%s: gantry %+v, docker %+v", name, g, w)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok && !dockerOnly(name) {
			t.Errorf("gantry export has %s, docker export does not", name)
		}
	}
}
