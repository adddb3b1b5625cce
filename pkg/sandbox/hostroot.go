//go:build linux

package sandbox

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/gantry-build/gantry/pkg/rootfs"
	"github.com/gantry-build/gantry/pkg/userns"
)

// HostRoot runs RUN steps in the root filesystem of the container gantry
// runs in, kaniko's approach for containers that allow no namespaces: the
// stage's root filesystem is laid over "/", the command runs there, and the
// step's changes are what changed since the step began, found from
// metadata (a snapshot of every path) rather than by reading content. What
// the container needs to go on (gantry's own folder, the store, the build
// context, mounted volumes, /proc, /sys, /dev and the files the engine
// mounts) is left out of every lay and every changeset.
//
// A HostRoot is for one process at a time: the root filesystem is one.
type HostRoot struct {
	root string // "/", but in tests
	keep rootfs.PathSet
	laid string           // the identity of the tree laid over "/", "" unknown
	snap *rootfs.Snapshot // "/" as the last lay or step left it
	// mountDirs tells which of /dev, /proc and /sys the laid tree has of
	// its own: "/" always has the container's there.
	mountDirs map[string]bool
}

// runtimeDirs are the folders a runtime mounts over, which a step's layer
// gets empty when the image has none (as BuildKit's does).
var runtimeDirs = []string{"dev", "proc", "sys"}

// hostKeep are the paths of a container that are the container's, never
// the image's: Docker and Kubernetes mount them, and gantry's image keeps
// its binary, certificates and store under /gantry (kaniko's under /kaniko).
var hostKeep = []string{"proc", "sys", "dev", "etc/hosts", "etc/resolv.conf", "etc/hostname", "etc/mtab",
	"var/run/secrets", "run/secrets", "gantry", "kaniko", "busybox", "workspace"}

// NewHostRoot prepares the container isolation. keep are further host
// paths to leave alone (the store, the context, the Dockerfile's folder);
// every mount point of the container is kept too.
func NewHostRoot(keep ...string) (*HostRoot, error) {
	if userns.Rootless() {
		return nil, errors.New("RUN with --isolation container needs to run as root in the build container (kaniko's executor does too): run the container as root (no --user), or build without RUN")
	}
	set := append(rootfs.PathSet{}, hostKeep...)
	mounts, err := mountPoints("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	for _, p := range append(mounts, keep...) {
		if rel := strings.Trim(filepath.Clean(p), "/"); rel != "" && rel != "." {
			set = append(set, rel)
		}
	}
	if exe, err := os.Executable(); err == nil {
		set = append(set, strings.TrimPrefix(filepath.Dir(exe), "/"))
	}
	return &HostRoot{root: "/", keep: set}, nil
}

// mountPoints lists the mount points of this mount namespace but "/".
func mountPoints(mountinfo string) ([]string, error) {
	f, err := os.Open(mountinfo)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && fields[4] != "/" {
			out = append(out, unescapeMountPath(fields[4]))
		}
	}
	return out, sc.Err()
}

// unescapeMountPath undoes mountinfo's octal escapes (\040 for a space).
func unescapeMountPath(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var c byte
			if _, err := fmt.Sscanf(s[i+1:i+4], "%03o", &c); err == nil {
				b.WriteByte(c)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// Lay makes "/" the tree at dir, known as id (a chain ID): nothing to do
// when that tree is laid already, as it is after a step whose changes the
// caller kept as the next tree.
func (h *HostRoot) Lay(id, dir string) error {
	if h.Holds(id) {
		return nil
	}
	if err := rootfs.Sync(h.root, dir, h.keep); err != nil {
		return fmt.Errorf("laying the image over the container's root filesystem: %w", err)
	}
	snap, err := rootfs.TakeSnapshot(h.root, h.keep.Skip)
	if err != nil {
		return err
	}
	h.laid, h.snap = id, snap
	h.mountDirs = map[string]bool{}
	for _, d := range runtimeDirs {
		_, err := os.Lstat(filepath.Join(dir, d))
		h.mountDirs[d] = err == nil
	}
	return nil
}

// Holds tells whether "/" holds the tree known as id, as the last Lay or
// step (Assume) left it.
func (h *HostRoot) Holds(id string) bool { return id != "" && id == h.laid && h.snap != nil }

// Root is the root filesystem steps run in: "/" (a folder in tests).
func (h *HostRoot) Root() string { return h.root }

// Clean empties the container's root filesystem but for the kept paths,
// so that the container can run another build (kaniko's --cleanup).
func (h *HostRoot) Clean() error {
	empty, err := os.MkdirTemp("", ".gantry-empty-*")
	if err != nil {
		return err
	}
	defer os.Remove(empty)
	h.laid, h.snap = "", nil
	keep := append(h.keep[:len(h.keep):len(h.keep)], strings.TrimPrefix(empty, "/"))
	return rootfs.Sync(h.root, empty, keep)
}

// Assume records that "/" now holds the tree known as id: the tree the
// last step started from plus the changes it wrote.
func (h *HostRoot) Assume(id string) { h.laid = id }

// Run runs spec's command in "/" (spec.Lower and Upper are not used: Lay
// laid the tree) and writes the step's changes to changes as a layer tar.
// Mounts are laid as files and folders for the step and taken away before
// its changes are read.
func (h *HostRoot) Run(ctx context.Context, spec Spec, stdout, stderr io.Writer, changes io.Writer) error {
	if spec.TTY {
		// Only build steps run here (gantry run always uses the sandbox);
		// a terminal of the container's devpts is not the step's to take.
		return errors.New("container isolation: RUN steps get no terminal (gantry run -t needs the sandbox)")
	}
	if h.snap == nil {
		return errors.New("container isolation: no image laid")
	}
	undo, err := h.layMounts(spec.Mounts)
	defer undo()
	if err != nil {
		return err
	}
	runErr := h.exec(ctx, spec, stdout, stderr)
	undo()
	h.laid = "" // whatever the outcome, "/" is no longer the tree laid
	if runErr != nil {
		// The failed step's changes stay in "/": the next Lay replaces them.
		return runErr
	}
	// The container's /dev, /proc and /sys are its own; where the image has
	// none, the layer gets the empty mount points a runtime leaves, as
	// BuildKit's does.
	var empty []string
	for _, d := range runtimeDirs {
		if !h.mountDirs[d] {
			empty = append(empty, d)
			h.mountDirs[d] = true // the layer has it now, and so the next tree
		}
	}
	after, err := rootfs.WriteSnapshotChanges(changes, h.snap, h.keep.Skip, rootfs.ChangeOptions{EmptyDirs: empty})
	if err != nil {
		return err
	}
	h.snap = after
	return nil
}

func (h *HostRoot) exec(ctx context.Context, spec Spec, stdout, stderr io.Writer) error {
	if len(spec.Args) == 0 {
		return errors.New("RUN: no command")
	}
	cmd := exec.CommandContext(ctx, lookPath(spec.Args[0], spec.Env))
	cmd.Args, cmd.Env, cmd.Dir = spec.Args, spec.Env, spec.Dir
	if cmd.Dir == "" {
		cmd.Dir = "/"
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = spec.Stdin, stdout, stderr
	groups := make([]uint32, 0, len(spec.Groups))
	for _, g := range spec.Groups {
		groups = append(groups, uint32(g))
	}
	// A process group of its own: whatever the step leaves running is
	// stopped with it, and does not outlive the build.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL,
		Credential: &syscall.Credential{Uid: uint32(spec.UID), Gid: uint32(spec.GID), Groups: groups}}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	group, err := newGroup(spec.Limits)
	if err != nil {
		return err
	}
	defer group.Remove()
	if group != nil {
		// The command starts in its cgroup (clone3's CLONE_INTO_CGROUP):
		// there is no gantry child here to hold it until it has joined.
		fd, ok := group.CloneFD()
		if !ok {
			return errors.New("--isolation container applies cgroup limits on cgroup v2 hosts only (this one has v1): leave out --memory, --memory-swap, --pids-limit and --cgroup-parent")
		}
		cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, fd
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("RUN %s: %w", spec.Args[0], err)
	}
	err = cmd.Wait()
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return exitError(ee.ExitCode(), group)
	}
	return err
}

// layMounts puts each RUN --mount in place as plain files, the way a
// container without mount rights can: binds and caches are copied (a
// cache's changes copied back), a tmpfs is an empty folder, a secret a file
// with its mode and owner. undo removes them again (restoring what the
// image had there) and copies caches back; it may be called twice.
func (h *HostRoot) layMounts(mounts []Mount) (undo func(), err error) {
	var undos []func() error
	undo = func() {
		for i := len(undos) - 1; i >= 0; i-- {
			undos[i]()
		}
		undos = nil
	}
	for _, m := range mounts {
		target := filepath.Clean(m.Target)
		aside := ""
		if _, err := os.Lstat(target); err == nil {
			aside = filepath.Join(filepath.Dir(target), ".gantry-aside-"+filepath.Base(target))
			if err := os.Rename(target, aside); err != nil {
				return undo, err
			}
		}
		made, err := mkdirParents(filepath.Dir(target))
		if err != nil {
			return undo, err
		}
		switch m.Type {
		case "tmpfs":
			err = os.Mkdir(target, 0o1777)
		case "file":
			err = os.WriteFile(target, m.Data, 0o600)
			if err == nil {
				err = os.Chmod(target, os.FileMode(m.Mode)&os.ModePerm)
			}
			if err == nil {
				err = os.Lchown(target, m.UID, m.GID)
			}
		default: // bind: a copy, written back when writable (a cache)
			err = rootfs.CopyTree(m.Source, target)
		}
		m := m
		undos = append(undos, func() error {
			if m.Type == "bind" && !m.ReadOnly {
				os.RemoveAll(m.Source)
				rootfs.CopyTree(target, m.Source)
			}
			os.RemoveAll(target)
			for i := len(made) - 1; i >= 0; i-- {
				os.Remove(made[i])
			}
			if aside != "" {
				return os.Rename(aside, target)
			}
			return nil
		})
		if err != nil {
			return undo, fmt.Errorf("RUN --mount target=%s: %w", m.Target, err)
		}
	}
	return undo, nil
}

// mkdirParents makes dir and its missing parents, and says which it made.
func mkdirParents(dir string) ([]string, error) {
	var missing []string
	for d := dir; d != "/" && d != "."; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); err == nil {
			break
		}
		missing = append(missing, d)
	}
	var made []string
	for i := len(missing) - 1; i >= 0; i-- {
		if err := os.Mkdir(missing[i], 0o755); err != nil {
			return made, err
		}
		made = append(made, missing[i])
	}
	return made, nil
}
