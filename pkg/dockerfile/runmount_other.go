//go:build !unix

package dockerfile

import (
	"fmt"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/gantry-build/gantry/pkg/sandbox"
)

// cacheMountDir locks with flock(2), and cache mounts are for RUN, which
// needs Linux.
func cacheMountDir(base string, sharing instructions.ShareMode) (string, func(), error) {
	return "", nil, fmt.Errorf("RUN --mount=type=cache: %w", sandbox.ErrNeedsLinux)
}
