// Package rootfs applies image layers to directories: unpacking with
// whiteouts (.wh.NAME deletes NAME below, .wh..wh..opq hides a directory's
// lower contents) and flattening an image into one root filesystem.
//
// Layers are hostile input: every path is resolved inside the target with
// filepath-securejoin, so "../", absolute names, symlinks planted by an
// earlier entry and hard links to outside files cannot reach outside it.
//
// Folders of Unix files (owners, modes, links, device nodes, xattrs) are
// made and read on Linux and macOS; elsewhere those functions return
// ErrNeedsUnix, and images are read as tar streams only (Flatten, Diff).
package rootfs

import (
	"errors"
	"fmt"
	"path"
	"strings"
)

// ErrNeedsUnix is what unpacking into a folder, and reading one back,
// answer on systems other than Linux and macOS: their files have no Unix
// owners, modes or links to hold an image's.
var ErrNeedsUnix = errors.New("a folder of image files needs Linux or macOS (Unix owners, modes and links): use gantry there, or in gantry's image in a container (export -o FILE.tar works on every system)")

const (
	whiteoutPrefix = ".wh."
	opaqueWhiteout = ".wh..wh..opq"
)

// clean turns a tar name into a path relative to the root, refusing names
// that climb out of it.
func clean(name string) (string, error) {
	p := path.Clean("/" + name)
	if p == "/" {
		return "", nil
	}
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return "", fmt.Errorf("layer entry %q escapes the root filesystem", name)
		}
	}
	return strings.TrimPrefix(p, "/"), nil
}

// ChangeOptions say what kind of upper directory WriteChanges reads.
type ChangeOptions struct {
	// Overlay: upper is an overlayfs upper directory, holding only what
	// changed: a 0/0 character device marks a deletion, and the
	// trusted.overlay.opaque or user.overlay.opaque xattr set to "y" marks a
	// directory that hides everything below. Otherwise upper is the whole
	// new tree and is compared with lower.
	Overlay bool
	// RootOwned writes every entry as 0:0 but for the owners OwnerXattr
	// keeps: a rootless sandbox maps only the caller's id, as root, so host
	// ownership is meaningless in the layer.
	RootOwned bool
	// EmptyDirs are folders to write as empty, 0755, root's (mount points a
	// runtime leaves behind, as BuildKit's does for /dev, /proc and /sys);
	// only WriteSnapshotChanges, whose tree has the host's there, uses it.
	EmptyDirs []string
	// Trees: lower and upper are whole trees of the rootfs cache (Apply
	// made them; a file both share is one inode): owners are taken from
	// OwnerXattr where Apply recorded them, and a regular file that agrees
	// in metadata but is another inode is compared by content, since
	// COPY keeps a source's mtime (or clamps it to SOURCE_DATE_EPOCH).
	Trees bool
}
