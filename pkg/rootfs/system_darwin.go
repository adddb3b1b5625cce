package rootfs

import (
	"io/fs"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// What differs on macOS (system_linux.go has Linux's): syscall.Stat_t's
// 16-bit modes, 32-bit device numbers and times named *timespec, and the
// system's own xattrs.

func stampOf(st *syscall.Stat_t) stamp {
	return stamp{mode: uint32(st.Mode), uid: st.Uid, gid: st.Gid, size: st.Size, mtime: st.Mtimespec, ctime: st.Ctimespec,
		ino: st.Ino, dev: uint64(uint32(st.Dev)), rdev: uint64(uint32(st.Rdev))}
}

func statAtime(st *syscall.Stat_t) unix.Timespec { return unix.Timespec(st.Atimespec) }
func statMtime(st *syscall.Stat_t) unix.Timespec { return unix.Timespec(st.Mtimespec) }

// systemXattr tells macOS's own xattrs (com.apple.provenance,
// com.apple.quarantine, …): never an image's, as Linux allows no such
// names, and a process may be refused setting them on a copy.
func systemXattr(name string) bool { return strings.HasPrefix(name, "com.apple.") }

// statMeta fills in what macOS's stat tells of a file beyond fs.FileInfo:
// its owner and a device node's number.
func statMeta(fi fs.FileInfo, m *Meta) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return
	}
	m.UID, m.GID = int(st.Uid), int(st.Gid)
	if m.Mode&fs.ModeDevice != 0 {
		rdev := uint64(uint32(st.Rdev))
		m.Devmajor, m.Devminor = int64(unix.Major(rdev)), int64(unix.Minor(rdev))
	}
}

// inodeOf identifies a file by device and inode, with its link count.
func inodeOf(fi fs.FileInfo) (key [2]uint64, nlink uint64, ok bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return key, 0, false
	}
	return [2]uint64{uint64(uint32(st.Dev)), st.Ino}, uint64(st.Nlink), true
}
