package rootfs

import (
	"io/fs"
	"syscall"

	"golang.org/x/sys/unix"
)

// syscall.Stat_t names and sizes its fields per system, and systems set
// xattrs of their own: these answer for the rest of the package
// (system_darwin.go for macOS).

func stampOf(st *syscall.Stat_t) stamp {
	return stamp{mode: st.Mode, uid: st.Uid, gid: st.Gid, size: st.Size, mtime: st.Mtim, ctime: st.Ctim, ino: st.Ino, dev: st.Dev, rdev: st.Rdev}
}

func statAtime(st *syscall.Stat_t) unix.Timespec { return unix.Timespec(st.Atim) }
func statMtime(st *syscall.Stat_t) unix.Timespec { return unix.Timespec(st.Mtim) }

// systemXattr tells the system's own xattrs, never an image's: Linux sets
// none that xattrs does not already leave out.
func systemXattr(name string) bool { return false }

// statMeta fills in what Linux's stat tells of a file beyond fs.FileInfo:
// its owner and a device node's number.
func statMeta(fi fs.FileInfo, m *Meta) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return
	}
	m.UID, m.GID = int(st.Uid), int(st.Gid)
	if m.Mode&fs.ModeDevice != 0 {
		m.Devmajor, m.Devminor = int64(unix.Major(uint64(st.Rdev))), int64(unix.Minor(uint64(st.Rdev)))
	}
}

// inodeOf identifies a file by device and inode, with its link count.
func inodeOf(fi fs.FileInfo) (key [2]uint64, nlink uint64, ok bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return key, 0, false
	}
	return [2]uint64{uint64(st.Dev), st.Ino}, uint64(st.Nlink), true
}
