package rootfs

import "os"

// ModeFromUnix is a Unix mode's permission and setuid, setgid and sticky
// bits as Go's FileMode: how tar headers, --chmod and COPY --chmod's octal
// forms all read them.
func ModeFromUnix(m int64) os.FileMode {
	b := os.FileMode(m & 0o777)
	if m&0o4000 != 0 {
		b |= os.ModeSetuid
	}
	if m&0o2000 != 0 {
		b |= os.ModeSetgid
	}
	if m&0o1000 != 0 {
		b |= os.ModeSticky
	}
	return b
}
