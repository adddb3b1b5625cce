package rootfs

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// macOS's syscall.Stat_t: 16-bit modes, 32-bit device numbers, times named
// *timespec (stat_linux.go has Linux's).

func stampOf(st *syscall.Stat_t) stamp {
	return stamp{mode: uint32(st.Mode), uid: st.Uid, gid: st.Gid, size: st.Size, mtime: st.Mtimespec, ctime: st.Ctimespec,
		ino: st.Ino, dev: uint64(uint32(st.Dev)), rdev: uint64(uint32(st.Rdev))}
}

func statAtime(st *syscall.Stat_t) unix.Timespec { return unix.Timespec(st.Atimespec) }
func statMtime(st *syscall.Stat_t) unix.Timespec { return unix.Timespec(st.Mtimespec) }
