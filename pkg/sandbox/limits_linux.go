package sandbox

import (
	"fmt"

	"github.com/gantry-build/gantry/pkg/cgroup"
)

// newGroup makes the command's cgroup when spec asks for limits; nil (no
// cgroup, as before limits existed) when it asks for none.
func newGroup(l cgroup.Limits) (*cgroup.Group, error) {
	if !l.Any() {
		return nil, nil
	}
	g, err := cgroup.New(l)
	if err != nil {
		return nil, fmt.Errorf("a cgroup for the command's limits: %w", err)
	}
	return g, nil
}

// exitError is the command's failure, saying which limit of g (nil: none)
// stopped it, if one did.
func exitError(code int, g *cgroup.Group) *ExitError {
	return &ExitError{Code: code, Limit: g.Stopped(), OOM: g.OOMKilled()}
}
