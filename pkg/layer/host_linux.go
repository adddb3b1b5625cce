package layer

import (
	"io/fs"
	"syscall"

	"golang.org/x/sys/unix"
)

// What Linux's syscall.Stat_t tells of host files (host_darwin.go and
// host_other.go for other systems).

func statOf(fi fs.FileInfo) fileStat {
	s := fileStat{Size: fi.Size(), Mtime: fi.ModTime().UnixNano()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		s.Ctime = st.Ctim.Sec*1e9 + st.Ctim.Nsec
		s.Dev, s.Ino = uint64(st.Dev), st.Ino
	}
	return s
}

// hostRdev is the device number of a device node (0 for a fifo).
func hostRdev(fi fs.FileInfo, path string) (uint64, error) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Rdev), nil
	}
	return 0, nil
}

// devNumbers splits a device number as the tar header holds it.
func devNumbers(rdev uint64) (major, minor int64) {
	return int64(unix.Major(rdev)), int64(unix.Minor(rdev))
}

// devOf is st's device as statOf records it.
func devOf(st unix.Stat_t) uint64 { return st.Dev }
