package store

// Writing marks the start of an operation that adds blobs before naming them
// (a pull, a load, a build). Prune waits until every such operation has called
// the returned function, so it never collects blobs that are about to be named.
func (s *Store) Writing() (done func(), err error) {
	return s.flock("gc.lock", lockShared)
}

func (s *Store) lockIndex() (unlock func(), err error) {
	return s.flock("index.lock", lockExclusive)
}
