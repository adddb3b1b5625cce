//go:build !linux

package cgroup

import "fmt"

// Check refuses limits: cgroups are Linux's (and so is RUN).
func Check(l Limits) error {
	if !l.Any() {
		return nil
	}
	return fmt.Errorf("%s need Linux's cgroups", l.flags())
}
