package sandbox

import (
	"os"
	"sync"
)

// SharedNetwork is one network namespace of the default network, with its
// pasta, for all the RUN steps of a build, as BuildKit pools its
// namespaces: pasta takes 25–250 ms to start, once per build instead of
// once per step. Each step still has its own namespaces for the rest; its
// processes end with it, and with Docker's capabilities (no NET_ADMIN) it
// cannot change the network the next step gets. Without root (a user
// namespace per step) each step keeps a network of its own.
type SharedNetwork struct {
	mu     sync.Mutex
	done   bool
	closed bool     // Close was called: nothing more is started
	ns     *os.File // the namespace, kept alive by this descriptor
	stop   func()   // ends pasta
	err    error
}

// NewSharedNetwork is a network made when the first step needs it.
func NewSharedNetwork() *SharedNetwork { return &SharedNetwork{} }

// Close ends pasta and lets the namespace go; a nil network does nothing.
func (s *SharedNetwork) Close() {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.stop != nil {
		s.stop()
		s.stop = nil
	}
	if s.ns != nil {
		s.ns.Close()
		s.ns = nil
	}
}
