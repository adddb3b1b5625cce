//go:build !linux

package container

import (
	"fmt"
	"io/fs"

	"github.com/gantry-build/gantry/pkg/sandbox"
)

// Supported says why there are no working containers here: their commands
// run as RUN steps do. It wraps sandbox.ErrNeedsLinux.
func Supported() error {
	return fmt.Errorf("working containers (from, run, cp, commit) run commands as a Dockerfile's RUN does: %w", sandbox.ErrNeedsLinux)
}

// Lock is never reached (no container is created or opened here).
func (c *Container) Lock() (func(), error) { return nil, Supported() }

func isWhiteout(fi fs.FileInfo) bool { return false }

func chownLike(p string, fi fs.FileInfo) {}
