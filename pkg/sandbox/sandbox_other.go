//go:build !linux

package sandbox

import (
	"context"
	"fmt"
	"io"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// What callers use of the sandbox, on systems without Linux's namespaces:
// every way to run a command returns ErrNeedsLinux. The types are
// sandbox.go's, which builds on Linux only; .ci/run's cross-compile step
// fails when a field callers set is missing here.

// Spec is one command to run (see sandbox.go).
type Spec struct {
	Lower      string
	Upper      string
	Args       []string
	Env        []string
	Dir        string
	UID        int
	GID        int
	Groups     []int
	Network    string
	HostsFile  string
	Mounts     []Mount
	Ulimits    []Ulimit  `json:",omitempty"`
	Stdin      io.Reader `json:"-"`
	Persistent bool      `json:"-"`
}

// Mount is a RUN --mount (see sandbox.go).
type Mount struct {
	Type     string
	Source   string
	Target   string
	ReadOnly bool
	Data     []byte
	Mode     uint32
	UID, GID int
}

// Result says how the run's changes are to be read (see sandbox.go).
type Result struct {
	Overlay bool
}

// ExitError is a command that ran and failed.
type ExitError struct{ Code int }

func (e *ExitError) Error() string { return fmt.Sprintf("exit code %d", e.Code) }

// Run returns ErrNeedsLinux.
func Run(ctx context.Context, spec Spec, stdout, stderr io.Writer) (Result, error) {
	return Result{}, ErrNeedsLinux
}

// IsChild is false: no sandbox child is ever started here.
func IsChild() bool { return false }

// Init is never called (IsChild is false); it exits as a child that
// cannot start would.
func Init() {
	fmt.Fprintln(os.Stderr, "gantry:", ErrNeedsLinux)
	os.Exit(1)
}

// CanExec returns ErrNeedsLinux: no command of any platform runs here.
func CanExec(p v1.Platform) (how string, err error) { return "", ErrNeedsLinux }

// Resolve returns ErrNeedsLinux: neither isolation exists here.
func (iso Isolation) Resolve() (Isolation, error) { return "", ErrNeedsLinux }

// HostRoot is the container isolation (see hostroot.go).
type HostRoot struct{}

// NewHostRoot returns ErrNeedsLinux.
func NewHostRoot(keep ...string) (*HostRoot, error) { return nil, ErrNeedsLinux }

// Lay returns ErrNeedsLinux.
func (h *HostRoot) Lay(id, dir string) error { return ErrNeedsLinux }

// Clean returns ErrNeedsLinux.
func (h *HostRoot) Clean() error { return ErrNeedsLinux }

// Assume does nothing.
func (h *HostRoot) Assume(id string) {}

// Run returns ErrNeedsLinux.
func (h *HostRoot) Run(ctx context.Context, spec Spec, stdout, stderr io.Writer, changes io.Writer) error {
	return ErrNeedsLinux
}
