//go:build !linux && !darwin

package rootfs

import (
	"fmt"
	"io"
	"io/fs"
)

// Apply needs Unix files: see ErrNeedsUnix.
func Apply(dir string, r io.Reader) error { return fmt.Errorf("unpack into %s: %w", dir, ErrNeedsUnix) }

// LinkTree needs Unix files: see ErrNeedsUnix.
func LinkTree(src, dst string) error { return fmt.Errorf("link %s: %w", src, ErrNeedsUnix) }

// CopyTree needs Unix files: see ErrNeedsUnix.
func CopyTree(src, dst string) error { return fmt.Errorf("copy %s: %w", src, ErrNeedsUnix) }

// WriteChanges needs Unix files: see ErrNeedsUnix.
func WriteChanges(w io.Writer, lower, upper string, o ChangeOptions) error {
	return fmt.Errorf("read changes in %s: %w", upper, ErrNeedsUnix)
}

// statMeta has nothing to add: files here have no Unix owners or device
// numbers (MetaFromInfo gives root's).
func statMeta(fi fs.FileInfo, m *Meta) {}
