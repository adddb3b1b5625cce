//go:build linux || darwin

package layer

import (
	"fmt"
	"io/fs"
	"os"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/gantry-build/gantry/pkg/rootfs"
	"github.com/gantry-build/gantry/pkg/userns"
)

// withOwner records the owner a file has in the image: its owner on disk,
// except in trees a rootless gantry unpacked, where the files are the
// caller's and the image's owner is in an xattr (root when there is none).
func withOwner(e Entry, fi fs.FileInfo, path string) Entry {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return e
	}
	e.uid, e.gid = int(st.Uid), int(st.Gid)
	euid := effectiveUID()
	// Trees unpacked without root keep owners the inodes cannot hold in an
	// xattr (rootfs.Apply): all of them with only the caller's id mapped,
	// those beyond the subordinate range in a mapped user namespace.
	if (euid != 0 && e.uid == euid) || (euid == 0 && e.uid == 0 && userns.Inside()) {
		e.uid, e.gid = xattrOwner(path)
	}
	return e
}

// xattrOwner is the owner kept in the file's xattr, root when it has none.
// (Scanned into its own variables: scanning into an Entry's fields would
// move every Entry withOwner makes to the heap.)
func xattrOwner(path string) (uid, gid int) {
	buf := make([]byte, 32)
	if n, err := unix.Lgetxattr(path, rootfs.OwnerXattr, buf); err == nil {
		fmt.Sscanf(string(buf[:n]), "%d:%d", &uid, &gid)
	}
	return uid, gid
}

// effectiveUID does not change while gantry runs; asking once per file of a
// large tree is a system call per file.
var effectiveUID = sync.OnceValue(os.Geteuid)

// inodeKey identifies a host file so that hard links within the sources stay
// hard links; linkHardLinks replaces it by the first name.
func inodeKey(fi fs.FileInfo) string {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || st.Nlink < 2 {
		return ""
	}
	return fmt.Sprintf("inode:%d:%d", st.Dev, st.Ino)
}

// hostMode is a host file's mode as the layer starts from: Unix files have
// their own.
func hostMode(m fs.FileMode) fs.FileMode { return m }

// hostXattrs is the xattrs of the host file at path that belong in a layer.
func hostXattrs(path string) map[string]string { return rootfs.ReadXattrs(path) }

// listedAs tells whether the open file (st its fstat) is the regular file
// e was listed from: same device and inode.
func listedAs(st unix.Stat_t, e Entry) bool {
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return false
	}
	return e.stat.Ino == 0 || (st.Ino == e.stat.Ino && devOf(st) == e.stat.Dev)
}
