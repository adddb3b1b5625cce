//go:build linux

package sandbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

type childSpec struct {
	Spec
	Work   string
	Merged string
	Copied bool // Upper is a whole copy of the root: bind it, no overlay
	// ResolvConf is the step's /etc/resolv.conf in a network of its own
	// (its resolver is pasta's forwarder); empty: the host's.
	ResolvConf string `json:",omitempty"`
	Rootless   bool   // in a user namespace mapping only the caller's id
	// UserXattr: not the host's root (rootless, or root of a mapped user
	// namespace): overlayfs keeps its metadata in user.* xattrs.
	UserXattr bool
	// NetNS is the descriptor of the build's network namespace that the
	// child joins (SharedNetwork); 0: its own or the host's.
	NetNS int `json:",omitempty"`
}

// The child's pipes (Run's ExtraFiles): the spec comes in on specFD, which
// is closed when the command may start; statusFD carries a report when it
// cannot, and is closed by the exec when it can.
const (
	specFD   = 3
	statusFD = 4
)

// abortByte, written after the spec, tells the child not to start the
// command; it says errAborted.
const (
	abortByte  = "!"
	errAborted = "gantry could not set up the sandbox's network"
)

// IsChild reports whether this process is a sandbox child; main calls Init
// first thing when it is.
func IsChild() bool { return len(os.Args) == 2 && os.Args[1] == childArg }

// Init is the child: it never returns.
func Init() {
	// The bounding set and the seccomp filter are a thread's: the thread
	// that sets them must be the one that execs.
	runtime.LockOSThread()
	unix.CloseOnExec(statusFD)
	in := os.NewFile(specFD, "sandbox-spec")
	var spec childSpec
	dec := json.NewDecoder(in)
	if err := dec.Decode(&spec); err != nil {
		fail(status{Err: fmt.Sprintf("bad sandbox spec: %v", err)})
	}
	if spec.NetNS > 0 {
		// This thread execs the command: it takes the namespace along.
		err := unix.Setns(spec.NetNS, unix.CLONE_NEWNET)
		unix.Close(spec.NetNS)
		if err != nil {
			fail(status{Err: fmt.Sprintf("joining the build's network namespace: %v", err)})
		}
	}
	t := &tree{root: spec.Merged}
	if err := setup(spec, t); err != nil {
		fail(status{NoOverlay: errors.Is(err, errNoOverlay), Created: t.created, Err: err.Error()})
	}
	report(status{Created: t.created})
	path := lookPath(spec.Args[0], spec.Env)
	// Gantry's go: the spec pipe closes (the network is ready), or its
	// no-go: a byte after the spec (the network could not be made).
	rest, _ := io.ReadAll(io.MultiReader(dec.Buffered(), in))
	in.Close()
	if bytes.Contains(rest, []byte(abortByte)) {
		fail(status{Err: errAborted})
	}
	if err := closeExtraFiles(); err != nil {
		fail(status{Err: err.Error()})
	}
	unix.Umask(0o022) // runc's: the files a step makes do not depend on the caller's umask
	err := syscall.Exec(path, spec.Args, spec.Env)
	if errors.Is(err, syscall.ENOENT) {
		fail(status{NotFound: true, Err: spec.Args[0] + ": command not found in the image"})
	}
	fail(status{Err: fmt.Sprintf("exec %s: %v", spec.Args[0], err)})
}

// report tells Run what it needs to know: what to clean up, what failed.
func report(st status) {
	json.NewEncoder(os.NewFile(statusFD, "sandbox-status")).Encode(st)
}

// fail reports to Run why the command did not start.
func fail(st status) {
	report(st)
	os.Exit(125)
}

// closeExtraFiles marks every descriptor above stderr close-on-exec, the
// ones gantry was started with included: an open folder of the host's
// reaching the command would be its way out of the root (CVE-2024-21626).
// The status pipe goes too, as the exec succeeds.
func closeExtraFiles() error {
	err := unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
	if err == nil {
		return nil
	}
	if !errors.Is(err, unix.ENOSYS) && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("close_range: %w", err)
	}
	// Before Linux 5.11: one by one, as the sandbox's /proc lists them.
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return fmt.Errorf("listing open descriptors: %w", err)
	}
	for _, e := range entries {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 {
			unix.CloseOnExec(fd)
		}
	}
	return nil
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
