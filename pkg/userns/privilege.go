package userns

import (
	"os"
	"sync"
)

// Privilege is what gantry may do with ids, decided once per process (after
// Enter) instead of each package asking the kernel in its own way.
type Privilege int

const (
	// Root is real root: every id, device nodes, mounts.
	Root Privilege = iota
	// Subordinate is root inside a user namespace that maps the caller's
	// subordinate ids: real owners, no device nodes.
	Subordinate
	// SingleID is an ordinary user with only its own id, mapped to root in
	// the sandbox: files come out root-owned, owners live in xattrs.
	SingleID
)

// Current is the process's privilege. Call it after Enter.
var Current = sync.OnceValue(func() Privilege {
	switch {
	case os.Geteuid() != 0:
		return SingleID
	case Inside():
		return Subordinate
	}
	return Root
})

// RealRoot reports whether gantry runs as root outside any user namespace
// of its own making.
func RealRoot() bool { return Current() == Root }

// Rootless reports whether gantry has only the caller's own id.
func Rootless() bool { return Current() == SingleID }
