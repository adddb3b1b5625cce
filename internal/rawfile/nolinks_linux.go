package rawfile

import "golang.org/x/sys/unix"

// OpenNoLinks opens path for reading if no component of it is a link
// (openat2's RESOLVE_NO_SYMLINKS), without waiting on a FIFO: a file
// listed under a path with no link in it is read from that path only,
// never through a link put on the way since. Where the kernel has no
// openat2 (before 5.6) or a seccomp profile refuses it, only the last
// component is held to that.
func OpenNoLinks(path string) (File, error) {
	how := unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NONBLOCK | unix.O_NOFOLLOW,
		Resolve: unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	}
	for {
		fd, err := unix.Openat2(unix.AT_FDCWD, path, &how)
		switch err {
		case nil:
			return File(fd), nil
		case unix.EINTR, unix.EAGAIN: // EAGAIN: a rename raced the lookup
			continue
		case unix.ENOSYS, unix.EPERM:
			return OpenNoFollow(path)
		case unix.ELOOP, unix.EXDEV: // a link, or a jump out of the tree
			err = ErrLinkOnPath
		}
		return -1, &pathError{"open", path, err}
	}
}
