// Package sandbox runs a RUN command in an image's filesystem, as a
// container would see it, without a daemon: new mount, PID, UTS and IPC
// namespaces (and network, for --network none), an overlay mount whose
// lower directory is the unpacked image and whose upper directory collects
// the changes, /proc, a minimal /dev, and the host's resolv.conf and hosts
// for the run only.
//
// gantry re-executes itself: the child (Init) sets up the mounts inside the
// new namespaces, chroots and execs the command.
package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/gantry-build/gantry/pkg/userns"
)

const childArg = "__gantry_sandbox_init"

// Spec is one command to run.
type Spec struct {
	Lower string   // the image's root filesystem, read only
	Upper string   // receives every change (overlayfs upper directory)
	Args  []string // argv
	Env   []string
	Dir   string // working directory in the image
	UID   int
	GID   int
	// Groups are the supplementary groups (setgroups), as the runtime sets
	// them from the image's /etc/group; none when empty.
	Groups  []int
	Network string // "host" (default) or "none"
	// HostsFile replaces the host's /etc/hosts in the sandbox (--add-host).
	HostsFile string
	Mounts    []Mount
	Stdin     io.Reader `json:"-"` // nil: /dev/null
	// Persistent: Upper is a working container's layer, kept across runs;
	// it must never be replaced by a copy, so there is no copy fallback.
	Persistent bool `json:"-"`
}

// Mount is a RUN --mount: a host path bound at Target, or a tmpfs.
type Mount struct {
	Type     string // "bind" or "tmpfs"
	Source   string // host path for bind
	Target   string // absolute path in the image
	ReadOnly bool
}

// Mountpoints are the paths the sandbox mounts over. When the image lacks
// them they are created in the upper directory; Run removes them again so
// they never reach the layer.
var Mountpoints = []string{"proc", "dev", "sys", "etc/resolv.conf", "etc/hosts"}

// Result says how the run's changes are to be read.
type Result struct {
	// Overlay: Upper holds only the changes, overlayfs style. Otherwise
	// overlayfs could not be mounted and Upper holds a whole copy of the
	// root filesystem, to be compared with Lower.
	Overlay bool
}

// exitNoOverlay is the child's exit code when overlayfs cannot be mounted.
const exitNoOverlay = 124

var warnOnce sync.Once

// Run runs spec, streaming the command's output to stdout and stderr. A
// non-zero exit is an *ExitError. Where overlayfs cannot be mounted (or
// GANTRY_SANDBOX_NO_OVERLAY=1), it runs in a copy of the root filesystem
// instead, and says so once.
func Run(ctx context.Context, spec Spec, stdout, stderr io.Writer) (Result, error) {
	if os.Geteuid() != 0 && (spec.UID != 0 || spec.GID != 0) {
		return Result{}, fmt.Errorf("RUN as user %d:%d needs root or subordinate ids: %s, so gantry maps only your own id, as root, into the sandbox", spec.UID, spec.GID, userns.Why())
	}
	if os.Getenv("GANTRY_SANDBOX_NO_OVERLAY") != "1" {
		err := run(ctx, spec, stdout, stderr, false)
		var ee *ExitError
		if !errors.As(err, &ee) || ee.Code != exitNoOverlay {
			return Result{Overlay: true}, err
		}
		if spec.Persistent {
			return Result{}, errors.New("overlayfs cannot be mounted here, and working containers need it")
		}
	}
	warnOnce.Do(func() {
		fmt.Fprintln(stderr, "gantry: overlayfs is not available here: RUN works on a copy of the root filesystem (slower)")
	})
	os.RemoveAll(spec.Upper)
	if out, err := exec.Command("cp", "-a", spec.Lower, spec.Upper).CombinedOutput(); err != nil {
		return Result{}, fmt.Errorf("copying the root filesystem: %v: %s", err, out)
	}
	return Result{}, run(ctx, spec, stdout, stderr, true)
}

func run(ctx context.Context, spec Spec, stdout, stderr io.Writer, copied bool) error {
	work, err := os.MkdirTemp(filepath.Dir(spec.Upper), ".work-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	merged, err := os.MkdirTemp(filepath.Dir(spec.Upper), ".merged-*")
	if err != nil {
		return err
	}
	defer os.Remove(merged)
	raw, err := json.Marshal(childSpec{Spec: spec, Work: work, Merged: merged, Copied: copied,
		Rootless: os.Geteuid() != 0, UserXattr: os.Geteuid() != 0 || userns.Inside()})
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, self, childArg)
	cmd.Env = []string{"GANTRY_SANDBOX_SPEC=" + string(raw)}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = spec.Stdin, stdout, stderr
	flags := syscall.CLONE_NEWNS | syscall.CLONE_NEWPID | syscall.CLONE_NEWUTS | syscall.CLONE_NEWIPC
	if spec.Network == "none" {
		flags |= syscall.CLONE_NEWNET
	}
	// Without an interactive stdin (a build step), the command gets a
	// session of its own and no controlling terminal: it cannot open
	// gantry's terminal and type into the user's shell (TIOCSTI).
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: uintptr(flags), Pdeathsig: syscall.SIGKILL, Setsid: spec.Stdin == nil}
	if os.Geteuid() != 0 {
		// Rootless: a user namespace where our own id is root. Unprivileged
		// overlayfs (Linux 5.11+) then works with its userxattr option.
		cmd.SysProcAttr.Cloneflags |= syscall.CLONE_NEWUSER
		cmd.SysProcAttr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}}
		cmd.SysProcAttr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}}
		cmd.SysProcAttr.GidMappingsEnableSetgroups = false
	}
	runErr := cmd.Run()
	cleanMountpoints(spec)
	var ee *exec.ExitError
	if errors.As(runErr, &ee) {
		return &ExitError{Code: ee.ExitCode()}
	}
	return runErr
}

// ExitError is a command that ran and failed.
type ExitError struct{ Code int }

func (e *ExitError) Error() string { return fmt.Sprintf("exit code %d", e.Code) }

// cleanMountpoints removes from the upper directory the mountpoints the run
// created, when the image did not have them: they are the sandbox's, not the
// command's.
func cleanMountpoints(spec Spec) {
	for _, m := range spec.Mounts {
		rel := strings.TrimPrefix(filepath.Clean(m.Target), "/")
		// The target and the parents made for it, while empty and new.
		for p := rel; p != "." && p != "/" && p != ""; p = filepath.Dir(p) {
			if _, err := os.Lstat(filepath.Join(spec.Lower, p)); err == nil {
				break
			}
			fi, err := os.Lstat(filepath.Join(spec.Upper, p))
			if err != nil || (!fi.IsDir() && fi.Size() != 0) {
				break
			}
			if os.Remove(filepath.Join(spec.Upper, p)) != nil {
				break
			}
		}
	}
	for _, m := range Mountpoints {
		if _, err := os.Lstat(filepath.Join(spec.Lower, m)); err == nil {
			continue
		}
		p := filepath.Join(spec.Upper, m)
		fi, err := os.Lstat(p)
		if err != nil {
			continue
		}
		if fi.IsDir() {
			os.Remove(p) // only if empty: something the command put there stays
		} else if fi.Size() == 0 {
			os.Remove(p)
		}
	}
	// An etc/ created only to hold the mountpoints goes too.
	if _, err := os.Lstat(filepath.Join(spec.Lower, "etc")); err != nil {
		os.Remove(filepath.Join(spec.Upper, "etc"))
	}
}

type childSpec struct {
	Spec
	Work     string
	Merged   string
	Copied   bool // Upper is a whole copy of the root: bind it, no overlay
	Rootless bool // in a user namespace mapping only the caller's id
	// UserXattr: not the host's root (rootless, or root of a mapped user
	// namespace): overlayfs keeps its metadata in user.* xattrs.
	UserXattr bool
}

// IsChild reports whether this process is a sandbox child; main calls Init
// first thing when it is.
func IsChild() bool { return len(os.Args) == 2 && os.Args[1] == childArg }

// Init is the child: it never returns.
func Init() {
	var spec childSpec
	if err := json.Unmarshal([]byte(os.Getenv("GANTRY_SANDBOX_SPEC")), &spec); err != nil {
		fail(fmt.Errorf("bad sandbox spec: %w", err))
	}
	if err := setup(spec); err != nil {
		if errors.Is(err, errNoOverlay) {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(exitNoOverlay)
		}
		fail(err)
	}
	path := lookPath(spec.Args[0], spec.Env)
	err := syscall.Exec(path, spec.Args, spec.Env)
	if errors.Is(err, syscall.ENOENT) {
		fmt.Fprintf(os.Stderr, "gantry: %s: command not found in the image\n", spec.Args[0])
		os.Exit(127) // as a shell says it
	}
	fail(fmt.Errorf("exec %s: %w", spec.Args[0], err))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "gantry sandbox:", err)
	os.Exit(125)
}

// lookPath finds argv[0] in the chroot's PATH, as a shell would.
func lookPath(name string, env []string) string {
	if strings.Contains(name, "/") {
		return name
	}
	path := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
		}
	}
	for _, dir := range filepath.SplitList(path) {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return name
}
