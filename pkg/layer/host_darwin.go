package layer

import (
	"fmt"
	"io/fs"
	"syscall"

	"golang.org/x/sys/unix"
)

// What macOS's syscall.Stat_t tells of host files (host_linux.go has
// Linux's).

func statOf(fi fs.FileInfo) fileStat {
	s := fileStat{Size: fi.Size(), Mtime: fi.ModTime().UnixNano()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		s.Ctime = st.Ctimespec.Sec*1e9 + st.Ctimespec.Nsec
		s.Dev, s.Ino = uint64(uint32(st.Dev)), st.Ino
	}
	return s
}

// hostRdev refuses device nodes: macOS numbers its devices its own way, and
// an image's /dev/null is Linux's 1:3, not the 3:2 of macOS's.
func hostRdev(fi fs.FileInfo, path string) (uint64, error) {
	if fi.Mode()&fs.ModeDevice == 0 {
		return 0, nil // a fifo has no number
	}
	return 0, fmt.Errorf("%s is a device node, whose numbers are macOS's, not Linux's: import a root filesystem with device nodes on Linux, or leave them out", path)
}

// devNumbers is never asked for a number here: hostRdev gives none.
func devNumbers(rdev uint64) (major, minor int64) { return 0, 0 }

// devOf is st's device as statOf records it.
func devOf(st unix.Stat_t) uint64 { return uint64(uint32(st.Dev)) }
