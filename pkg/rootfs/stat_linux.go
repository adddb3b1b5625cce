package rootfs

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// syscall.Stat_t names and sizes its fields per system: these read them
// for the rest of the package (stat_darwin.go for macOS).

func stampOf(st *syscall.Stat_t) stamp {
	return stamp{mode: st.Mode, uid: st.Uid, gid: st.Gid, size: st.Size, mtime: st.Mtim, ctime: st.Ctim, ino: st.Ino, dev: st.Dev, rdev: st.Rdev}
}

func statAtime(st *syscall.Stat_t) unix.Timespec { return unix.Timespec(st.Atim) }
func statMtime(st *syscall.Stat_t) unix.Timespec { return unix.Timespec(st.Mtim) }
