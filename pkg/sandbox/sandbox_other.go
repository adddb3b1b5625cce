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
// every way to run a command returns ErrNeedsLinux (the types are spec.go's).

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

// Holds is false: nothing is laid.
func (h *HostRoot) Holds(id string) bool { return false }

// Root is "/".
func (h *HostRoot) Root() string { return "/" }

// Run returns ErrNeedsLinux.
func (h *HostRoot) Run(ctx context.Context, spec Spec, stdout, stderr io.Writer, changes io.Writer) error {
	return ErrNeedsLinux
}

// Apply returns ErrNeedsLinux.
func (h *HostRoot) Apply(r io.Reader) error { return ErrNeedsLinux }

// Prepare does nothing: no step runs here.
func (s *SharedNetwork) Prepare(ctx context.Context) {}
