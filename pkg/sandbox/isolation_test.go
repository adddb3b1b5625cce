//go:build linux

package sandbox

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gantry-build/gantry/pkg/rootfs"
)

func TestInContainerMarks(t *testing.T) {
	none := func(string) string { return "" }
	bare := t.TempDir()
	if in, why := InContainer(bare, none); in {
		t.Errorf("a bare root is a container: %s", why)
	}
	for name, setup := range map[string]func(root string) func(string) string{
		"dockerenv": func(root string) func(string) string {
			os.WriteFile(filepath.Join(root, ".dockerenv"), nil, 0o644)
			return none
		},
		"containerenv": func(root string) func(string) string {
			os.MkdirAll(filepath.Join(root, "run"), 0o755)
			os.WriteFile(filepath.Join(root, "run/.containerenv"), nil, 0o644)
			return none
		},
		"cgroup": func(root string) func(string) string {
			os.MkdirAll(filepath.Join(root, "proc/1"), 0o755)
			os.WriteFile(filepath.Join(root, "proc/1/cgroup"), []byte("0::/kubepods/besteffort/pod1/abc\n"), 0o644)
			return none
		},
		"env": func(string) func(string) string {
			return func(k string) string {
				if k == "container" {
					return "podman"
				}
				return ""
			}
		},
	} {
		root := t.TempDir()
		if in, why := InContainer(root, setup(root)); !in {
			t.Errorf("%s: not seen as a container: %s", name, why)
		}
	}
}

// The container isolation is refused outside a container, and auto picks
// it only in gantry's own build container, when namespaces do not work.
func TestIsolationResolve(t *testing.T) {
	works := func() error { return nil }
	refused := func() error { return errors.New("operation not permitted") }
	cases := []struct {
		iso                  Isolation
		inContainer, builder bool
		ns                   func() error
		want                 Isolation
		err                  string
	}{
		{IsolationContainer, false, false, works, "", "this is not a container"},
		{IsolationContainer, true, false, refused, IsolationContainer, ""},
		{IsolationAuto, true, true, works, IsolationSandbox, ""},
		{IsolationAuto, true, true, refused, IsolationContainer, ""},
		{IsolationAuto, true, false, refused, "", "--isolation container"},
		{IsolationAuto, false, true, refused, "", "allow user namespaces"},
		{IsolationSandbox, true, true, refused, IsolationSandbox, ""},
	}
	for _, c := range cases {
		got, err := c.iso.resolve(c.inContainer, "why", c.builder, c.ns)
		if got != c.want || (c.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.err)) {
			t.Errorf("%+v: got %q, %v", c, got, err)
		}
	}
	if _, err := ParseIsolation("chroot"); err == nil {
		t.Error("an unknown isolation was accepted")
	}
}

func TestMountPointsUnescaped(t *testing.T) {
	p := filepath.Join(t.TempDir(), "mountinfo")
	os.WriteFile(p, []byte("22 1 0:21 / / rw - overlay overlay rw\n23 22 0:5 / /dev rw - tmpfs tmpfs rw\n24 22 8:1 /x /my\\040volume rw - ext4 /dev/sda1 rw\n"), 0o644)
	got, err := mountPoints(p)
	if err != nil || strings.Join(got, "|") != "/dev|/my volume" {
		t.Errorf("mountPoints = %q, %v", got, err)
	}
}

// A step in the container isolation: the tree is laid over the root, the
// command runs, its changes become a layer (kept paths left out), and the
// next step on that result needs no new lay.
func TestHostRootStepChanges(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the container isolation runs as root") // the e2e suite runs it in a real container
	}
	root, image := t.TempDir(), t.TempDir()
	os.MkdirAll(filepath.Join(image, "etc"), 0o755)
	os.WriteFile(filepath.Join(image, "etc/keep"), []byte("k"), 0o644)
	os.WriteFile(filepath.Join(image, "etc/gone"), []byte("g"), 0o644)
	os.MkdirAll(filepath.Join(root, "workspace"), 0o755)
	os.WriteFile(filepath.Join(root, "workspace/ctx"), []byte("context"), 0o644)
	os.WriteFile(filepath.Join(root, "stale"), []byte("not in the image"), 0o644)
	h := &HostRoot{root: root, keep: rootfs.PathSet{"workspace"}}
	if err := h.Lay("chain-1", image); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "stale")); err == nil {
		t.Error("a file the image lacks stayed")
	}
	var layer bytes.Buffer
	spec := Spec{Lower: image, Args: []string{"/bin/sh", "-c", "echo new > " + root + "/etc/new; rm " + root + "/etc/gone; echo ws > " + root + "/workspace/out"}, Env: []string{"PATH=/usr/bin:/bin"}}
	if err := h.Run(context.Background(), spec, os.Stderr, os.Stderr, &layer); err != nil {
		t.Fatal(err)
	}
	names := layerNames(t, layer.Bytes())
	// The image has no /dev, /proc, /sys: the layer has their empty mount
	// points, as BuildKit's has.
	if names != "dev/|etc/|etc/.wh.gone|etc/new|proc/|sys/" {
		t.Errorf("layer = %s", names)
	}
	h.Assume("chain-2")
	if err := h.Lay("chain-2", "/nonexistent"); err != nil {
		t.Errorf("laying the tree just made synced again: %v", err)
	}
	if err := h.Run(context.Background(), Spec{Args: []string{"/bin/sh", "-c", "exit 7"}}, os.Stderr, os.Stderr, &layer); err == nil {
		t.Error("exit 7 succeeded")
	} else if ee := (*ExitError)(nil); !errors.As(err, &ee) || ee.Code != 7 {
		t.Errorf("exit 7: %v", err)
	}
}

func layerNames(t *testing.T, b []byte) string {
	t.Helper()
	var names []string
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
	}
	return strings.Join(names, "|")
}

// The container isolation gives no terminal: a TTY spec is refused, not
// run with the container's own standard streams.
func TestHostRootRefusesTTY(t *testing.T) {
	h := &HostRoot{root: t.TempDir()}
	err := h.Run(context.Background(), Spec{Args: []string{"true"}, TTY: true}, io.Discard, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "no terminal") {
		t.Errorf("TTY in the container isolation: %v, want a refusal naming the terminal", err)
	}
}

// A COPY's layer applied straight onto "/" lands there but on kept paths:
// by name, through a link of the image's, or as a hard link to a kept file;
// the next RUN's layer holds that step's changes only.
func TestHostRootApplyKeepsKeptPaths(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the container isolation runs as root") // the e2e suite runs it in a real container
	}
	root, image := t.TempDir(), t.TempDir()
	os.MkdirAll(filepath.Join(image, "app"), 0o755)
	os.Symlink("/workspace", filepath.Join(image, "ws-link"))
	os.MkdirAll(filepath.Join(root, "workspace"), 0o755)
	os.WriteFile(filepath.Join(root, "workspace/ctx"), []byte("context"), 0o644)
	h := &HostRoot{root: root, keep: rootfs.PathSet{"workspace"}}
	if err := h.Lay("chain-1", image); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(hdr *tar.Header, body string) {
		hdr.Size = int64(len(body))
		if hdr.Typeflag == tar.TypeLink {
			hdr.Size = 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(body)[:hdr.Size])
	}
	add(&tar.Header{Name: "app/copied", Typeflag: tar.TypeReg, Mode: 0o644}, "copied")
	add(&tar.Header{Name: "workspace/ctx", Typeflag: tar.TypeReg, Mode: 0o644}, "overwritten by name")
	add(&tar.Header{Name: "ws-link/ctx", Typeflag: tar.TypeReg, Mode: 0o644}, "overwritten through a link")
	add(&tar.Header{Name: "app/alias", Typeflag: tar.TypeLink, Linkname: "workspace/ctx"}, "")
	add(&tar.Header{Name: "app/new-link", Typeflag: tar.TypeSymlink, Linkname: "/workspace"}, "")
	add(&tar.Header{Name: "app/new-link/ctx", Typeflag: tar.TypeReg, Mode: 0o644}, "overwritten through the layer's own link")
	tw.Close()
	if err := h.Apply(&buf); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "app/copied")); string(b) != "copied" {
		t.Errorf("app/copied = %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "workspace/ctx")); string(b) != "context" {
		t.Errorf("a kept file was written: %q", b)
	}
	if _, err := os.Lstat(filepath.Join(root, "app/alias")); err == nil {
		t.Error("a hard link to a kept file was made")
	}
	h.Assume("chain-2")
	var layer bytes.Buffer
	spec := Spec{Args: []string{"/bin/sh", "-c", "echo run > " + root + "/app/run"}, Env: []string{"PATH=/usr/bin:/bin"}}
	if err := h.Run(context.Background(), spec, os.Stderr, os.Stderr, &layer); err != nil {
		t.Fatal(err)
	}
	if names := layerNames(t, layer.Bytes()); names != "app/|app/run|dev/|proc/|sys/" {
		t.Errorf("the RUN's layer after the applied COPY = %s, want its own changes", names)
	}
}

// A COPY whose layer the content cache knew streams nothing through the
// layer's tee, then lays the stored layer: the empty stream changes
// nothing in "/" and takes no new snapshot (a walk of the whole root), so
// the root is walked once per COPY, not twice.
func TestHostRootApplyOfNothingKeepsTheSnapshot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the container isolation runs as root")
	}
	root, image := t.TempDir(), t.TempDir()
	os.MkdirAll(filepath.Join(image, "app"), 0o755)
	h := &HostRoot{root: root}
	if err := h.Lay("chain-1", image); err != nil {
		t.Fatal(err)
	}
	before := h.snap
	if err := h.Apply(bytes.NewReader(nil)); err != nil {
		t.Fatal(err)
	}
	if h.snap != before {
		t.Error("an empty layer stream took the snapshot of the root again")
	}
	if !h.Holds("chain-1") {
		t.Error("an empty layer stream made the root another tree")
	}
}
