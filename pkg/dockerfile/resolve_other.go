//go:build !unix

package dockerfile

import "os"

// openResolved opens a context path that sources resolved, for reading.
func openResolved(p string) (*os.File, error) { return os.Open(p) }
