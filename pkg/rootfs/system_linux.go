package rootfs

import (
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
