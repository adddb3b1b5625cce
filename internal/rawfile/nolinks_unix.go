//go:build unix && !linux

package rawfile

// OpenNoLinks opens path for reading, its last component not followed when
// it is a link, without waiting on a FIFO (Linux also refuses links in the
// other components: nolinks_linux.go).
func OpenNoLinks(path string) (File, error) { return OpenNoFollow(path) }
