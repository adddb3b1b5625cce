package sandbox

import (
	"fmt"
	"io"

	"github.com/gantry-build/gantry/pkg/cgroup"
)

// The types callers use on every system; running a Spec needs Linux
// (sandbox.go), elsewhere Run says so (sandbox_other.go).

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
	Network string // NetworkDefault (or ""), NetworkHost or NetworkNone
	// Shared, with the default network, is the build's one namespace that
	// its steps join; nil: the step makes its own.
	Shared *SharedNetwork `json:"-"`
	// HostsFile replaces the host's /etc/hosts in the sandbox (--add-host).
	HostsFile string
	// Hostname is the command's hostname (in its own UTS namespace);
	// "" is gantry.
	Hostname string `json:",omitempty"`
	Mounts   []Mount
	// Ulimits are the command's resource limits (--ulimit); the others
	// are gantry's own.
	Ulimits []Ulimit `json:",omitempty"`
	// Limits are the command's cgroup limits (--memory, --pids-limit …):
	// it runs in a cgroup of its own when they ask for anything, which is
	// removed, with whatever is left in it, when the command ends.
	Limits cgroup.Limits `json:"-"`
	Stdin  io.Reader     `json:"-"` // nil: /dev/null
	// TTY gives the command a pseudo-terminal of the sandbox's own
	// /dev/pts as its controlling terminal and its standard input, output
	// and error, as docker run -t does: Stdin is typed into it, what the
	// command writes to it (its errors too) goes to stdout.
	TTY bool `json:",omitempty"`
	// Size is the pseudo-terminal's size when the command starts (TTY);
	// zero leaves the kernel's 0x0.
	Size Winsize `json:",omitempty"`
	// Resize, with TTY, brings the caller's terminal's new sizes (its
	// SIGWINCH): each is set on the command's terminal, whose foreground
	// processes get their SIGWINCH from the kernel.
	Resize <-chan Winsize `json:"-"`
	// Persistent: Upper is a working container's layer, kept across runs;
	// it must never be replaced by a copy, so there is no copy fallback.
	Persistent bool `json:"-"`
}

// Winsize is a terminal's size in characters.
type Winsize struct{ Rows, Cols uint16 }

// Mount is a RUN --mount: a host path bound at Target, a tmpfs, or a file
// whose content lives in memory only (a secret).
type Mount struct {
	Type     string // "bind", "tmpfs" or "file"
	Source   string // host path for bind
	Target   string // absolute path in the image
	ReadOnly bool
	Size     int64 // a tmpfs's size limit in bytes; 0 is the kernel's default
	// A file: its content, mode and owner. The sandbox writes it into a
	// tmpfs of its own mount namespace, so it never reaches a disk.
	Data     []byte
	Mode     uint32
	UID, GID int
}

// Result says how the run's changes are to be read.
type Result struct {
	// Overlay: Upper holds only the changes, overlayfs style. Otherwise
	// overlayfs could not be mounted and Upper holds a whole copy of the
	// root filesystem, to be compared with Lower.
	Overlay bool
}

// ExitError is a command that ran and failed.
type ExitError struct {
	Code int
	// Limit says which of Spec.Limits stopped the command, if one did:
	// "out of memory (limit 64 MiB)", "the pids limit (50) was reached".
	Limit string
	OOM   bool // the kernel killed a process of the command for want of memory
}

func (e *ExitError) Error() string {
	switch {
	case e.OOM:
		return fmt.Sprintf("exit code %d: killed: %s", e.Code, e.Limit)
	case e.Limit != "":
		return fmt.Sprintf("exit code %d: %s", e.Code, e.Limit)
	}
	return fmt.Sprintf("exit code %d", e.Code)
}

// The values of Spec.Network.
const (
	// NetworkDefault (or "") is a network namespace of the step's own whose
	// traffic goes out through pasta, a user-mode network stack, as
	// rootless Podman and BuildKit give a container: the host's loopback
	// services are out of its reach, and its raw sockets see nothing of the
	// host's traffic.
	NetworkDefault = "default"
	// NetworkHost is the host's network namespace, loopback included.
	NetworkHost = "host"
	// NetworkNone is a namespace with the loopback interface only.
	NetworkNone = "none"
)
