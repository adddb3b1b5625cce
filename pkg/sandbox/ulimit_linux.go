package sandbox

import (
	"fmt"

	units "github.com/docker/go-units"
	"golang.org/x/sys/unix"
)

// setUlimits applies the limits to the child, which passes them on to the
// command at exec.
func setUlimits(ls []Ulimit) error {
	for _, l := range ls {
		u := units.Ulimit{Name: l.Name, Soft: l.Soft, Hard: l.Hard}
		r, err := u.GetRlimit()
		if err != nil {
			return err
		}
		if err := unix.Setrlimit(r.Type, &unix.Rlimit{Cur: r.Soft, Max: r.Hard}); err != nil {
			return fmt.Errorf("ulimit %s: %w (a hard limit above gantry's own needs CAP_SYS_RESOURCE; see ulimit -H)", u.String(), err)
		}
	}
	return nil
}
