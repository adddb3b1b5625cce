//go:build !linux

package dockerfile

import (
	"fmt"
	"os"

	"github.com/gantry-build/gantry/pkg/sandbox"
)

// MemorySecret needs Linux's memfd, and secrets are for RUN, which needs
// Linux too.
func MemorySecret(id string, data []byte, uid, gid int, mode os.FileMode) (*os.File, error) {
	return nil, fmt.Errorf("secret %s: secrets are mounted for RUN, and %w", id, sandbox.ErrNeedsLinux)
}
