package sandbox

import (
	"fmt"

	units "github.com/docker/go-units"
)

// Ulimit is a resource limit of the command, as docker build --ulimit and
// docker run --ulimit give it.
type Ulimit struct {
	// Name is Docker's: core, cpu, data, fsize, locks, memlock, msgqueue,
	// nice, nofile, nproc, rss, rtprio, rttime, sigpending, stack.
	Name       string
	Soft, Hard int64 // -1: unlimited
}

// ParseUlimit reads NAME=SOFT[:HARD] (HARD defaults to SOFT), as Docker's
// --ulimit flag.
func ParseUlimit(s string) (Ulimit, error) {
	u, err := units.ParseUlimit(s)
	if err != nil {
		return Ulimit{}, fmt.Errorf("invalid --ulimit %q: %w (use NAME=SOFT[:HARD], e.g. nofile=1024:2048)", s, err)
	}
	return Ulimit{Name: u.Name, Soft: u.Soft, Hard: u.Hard}, nil
}
