//go:build linux

// Package sandbox runs a RUN command in an image's filesystem, as a
// container would see it, without a daemon: new mount, PID, UTS, IPC and
// network namespaces (the network one, by default, connected to the
// outside through pasta, without the host's loopback: network.go; none
// with --network host), an overlay mount whose lower directory is the
// unpacked image and whose upper directory collects the changes, /proc
// (Docker's masked and read-only paths), a /dev of its own (dev.go), and
// the host's hosts and resolv.conf (naming pasta's DNS forwarder in a
// network of its own), read-only, for the run only. The command gets
// Docker's capability bounding set, a seccomp filter like Docker's default
// profile (seccomp.go), its --ulimit limits, its cgroup limits (pkg/cgroup)
// where any are asked for, and no descriptor of gantry's but 0-2. Mount targets are made without
// following links (inroot.go), and so is their removal after the run.
//
// gantry re-executes itself: the child (Init) reads its spec from a pipe,
// sets up the mounts inside the new namespaces, switches its root and execs
// the command. What goes wrong before the exec it reports on a second pipe,
// closed by the exec: the command's exit code is never the sandbox's.
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
	"sync"
	"syscall"

	"github.com/gantry-build/gantry/pkg/rootfs"
	"github.com/gantry-build/gantry/pkg/userns"
)

const childArg = "__gantry_sandbox_init"

var warnOnce sync.Once

// Run runs spec, streaming the command's output to stdout and stderr. A
// non-zero exit is an *ExitError. Where overlayfs cannot be mounted (or
// GANTRY_SANDBOX_NO_OVERLAY=1), it runs in a copy of the root filesystem
// instead, and says so once.
func Run(ctx context.Context, spec Spec, stdout, stderr io.Writer) (Result, error) {
	if userns.Rootless() && (spec.UID != 0 || spec.GID != 0) {
		return Result{}, fmt.Errorf("RUN as user %d:%d needs root or subordinate ids: %s, so gantry maps only your own id, as root, into the sandbox", spec.UID, spec.GID, userns.Why())
	}
	if os.Getenv("GANTRY_SANDBOX_NO_OVERLAY") != "1" {
		err := run(ctx, spec, stdout, stderr, false)
		if !errors.Is(err, errNoOverlay) {
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
	if err := rootfs.CopyTree(spec.Lower, spec.Upper); err != nil {
		return Result{}, fmt.Errorf("copying the root filesystem: %w", err)
	}
	return Result{}, run(ctx, spec, stdout, stderr, true)
}

func run(ctx context.Context, spec Spec, stdout, stderr io.Writer, copied bool) error {
	if err := checkNetwork(spec.Network); err != nil {
		return err
	}
	var own *ownNetwork
	var resolvConf string
	if spec.Network == "" || spec.Network == NetworkDefault {
		var err error
		if own, err = prepareOwnNetwork(); err != nil {
			return err
		}
		f, err := os.CreateTemp(filepath.Dir(spec.Upper), ".resolv-*")
		if err != nil {
			return err
		}
		defer os.Remove(f.Name())
		_, err = f.Write(own.resolvConf)
		if err == nil { // every user of the image reads it (apt resolves as _apt)
			err = f.Chmod(0o644)
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		resolvConf = f.Name()
	}
	// The build's shared network, when it has one (not rootless: a step's
	// user namespace could not join a namespace another one owns).
	var sharedNS *os.File
	if own != nil && spec.Shared != nil && !userns.Rootless() {
		var err error
		if sharedNS, err = spec.Shared.namespace(ctx, own); err != nil {
			return err
		}
	}
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
	child := childSpec{Spec: spec, Work: work, Merged: merged, Copied: copied, ResolvConf: resolvConf,
		Rootless: userns.Rootless(), UserXattr: userns.Current() != userns.Root}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	// The child reads its spec from one pipe and reports on another when
	// it cannot start the command; the command's exit code is the
	// command's alone (a set-up failure has no exit code to claim).
	specR, specW, err := os.Pipe()
	if err != nil {
		return err
	}
	defer specW.Close()
	statusR, statusW, err := os.Pipe()
	if err != nil {
		specR.Close()
		return err
	}
	defer statusR.Close()
	cmd := exec.CommandContext(ctx, self, childArg)
	cmd.Env = []string{}
	cmd.ExtraFiles = []*os.File{specR, statusW} // fds 3 and 4
	cmd.Stdin, cmd.Stdout, cmd.Stderr = spec.Stdin, stdout, stderr
	consoleSock := -1
	var consoleEnd *os.File // the child's end of the console socket
	if spec.TTY {
		// The command's 0, 1 and 2 are its terminal; the child's stderr
		// stays for what Go itself would say before the exec.
		sock, childEnd, err := consoleSocket()
		if err != nil {
			specR.Close()
			statusW.Close()
			return err
		}
		defer childEnd.Close()
		consoleSock, consoleEnd = sock, childEnd
		cmd.ExtraFiles = append(cmd.ExtraFiles, childEnd) // fd 5: consoleFD
		cmd.Stdin, cmd.Stdout = nil, nil
	}
	flags := syscall.CLONE_NEWNS | syscall.CLONE_NEWPID | syscall.CLONE_NEWUTS | syscall.CLONE_NEWIPC | netnsFlags(spec.Network)
	if sharedNS != nil {
		// The child joins the build's namespace (setns) first thing.
		flags &^= syscall.CLONE_NEWNET
		cmd.ExtraFiles = append(cmd.ExtraFiles, sharedNS)
		child.NetNS = 2 + len(cmd.ExtraFiles)
	}
	// Made before the child starts: a spec that cannot be sent starts
	// nothing.
	raw, err := json.Marshal(child)
	if err != nil {
		specR.Close()
		statusW.Close()
		if consoleSock >= 0 {
			syscall.Close(consoleSock)
		}
		return err
	}
	// The command gets a session of its own: it has no controlling terminal
	// but the one TTY gives it, and cannot type into the user's shell
	// through gantry's terminal (TIOCSTI).
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: uintptr(flags), Pdeathsig: syscall.SIGKILL, Setsid: true}
	if userns.Rootless() {
		// Rootless: a user namespace where our own id is root. Unprivileged
		// overlayfs (Linux 5.11+) then works with its userxattr option.
		cmd.SysProcAttr.Cloneflags |= syscall.CLONE_NEWUSER
		cmd.SysProcAttr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}}
		cmd.SysProcAttr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}}
		cmd.SysProcAttr.GidMappingsEnableSetgroups = false
	}
	// Limits: the child joins its cgroup before it reads its spec, so
	// before the command starts; whatever is left in it goes at the end.
	group, err := newGroup(spec.Limits)
	if err != nil {
		specR.Close()
		statusW.Close()
		return err
	}
	defer group.Remove()
	err = cmd.Start()
	specR.Close()
	statusW.Close()
	if err != nil {
		if consoleSock >= 0 {
			syscall.Close(consoleSock)
		}
		return err
	}
	if group != nil {
		if err := group.Join(cmd.Process.Pid); err != nil {
			cmd.Process.Kill()
			cmd.Wait()
			if consoleSock >= 0 {
				syscall.Close(consoleSock)
			}
			return err
		}
	}
	var con *console
	if spec.TTY {
		consoleEnd.Close() // the child's end: EOF when the child ends
		con = serveConsole(consoleSock, spec.Stdin, stdout, spec.Resize)
	}
	specW.Write(raw) // a child that dies before reading it reports why below
	// While the child sets up its mounts, pasta sets up its network; the
	// command starts when the spec pipe closes, or is not started at all
	// when a byte follows the spec.
	var stopNet func()
	var netErr error
	if own != nil && sharedNS == nil {
		if stopNet, netErr = own.start(ctx, cmd.Process.Pid, userns.Rootless()); netErr != nil {
			specW.Write([]byte(abortByte))
		}
	}
	specW.Close()
	// The child's reports, up to EOF: the command was executed (the pipe is
	// close-on-exec), or the child died.
	var failed *status
	var created []string
	for dec := json.NewDecoder(statusR); ; {
		var st status
		if err := dec.Decode(&st); err != nil {
			break
		}
		created = append(created, st.Created...)
		if st.failed() {
			failed = &st
		}
	}
	runErr := cmd.Wait()
	var conErr error
	if con != nil {
		conErr = con.wait(ctx)
	}
	if stopNet != nil {
		stopNet()
	}
	removeCreated(spec.Upper, created)
	if failed != nil && !(netErr != nil && failed.Err == errAborted) {
		return failed.err(stderr)
	}
	if netErr != nil {
		return netErr
	}
	if conErr != nil && runErr == nil {
		return conErr
	}
	var ee *exec.ExitError
	if errors.As(runErr, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return exitError(128+int(ws.Signal()), group)
		}
		return exitError(ee.ExitCode(), group)
	}
	return runErr
}

// status is a report of the child: what it made in the root for its
// mounts (to be removed after the run), and why it could not start the
// command.
type status struct {
	Created   []string `json:",omitempty"`
	NoOverlay bool     `json:",omitempty"` // overlayfs cannot be mounted: Run falls back to a copy
	NotFound  bool     `json:",omitempty"` // the command is not in the image
	Err       string   `json:",omitempty"`
}

func (st status) failed() bool { return st.NoOverlay || st.NotFound || st.Err != "" }

func (st status) err(stderr io.Writer) error {
	switch {
	case st.NoOverlay:
		return fmt.Errorf("%w: %s", errNoOverlay, st.Err)
	case st.NotFound:
		fmt.Fprintln(stderr, "gantry:", st.Err)
		return &ExitError{Code: 127} // as a shell says it
	}
	return fmt.Errorf("sandbox: %s", st.Err)
}
