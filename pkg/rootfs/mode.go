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

// UnixMode is the inverse of ModeFromUnix: m's permission and setuid,
// setgid and sticky bits as a tar header's mode holds them (no type bits,
// as Docker writes them).
func UnixMode(m os.FileMode) int64 {
	b := int64(m.Perm())
	if m&os.ModeSetuid != 0 {
		b |= 0o4000
	}
	if m&os.ModeSetgid != 0 {
		b |= 0o2000
	}
	if m&os.ModeSticky != 0 {
		b |= 0o1000
	}
	return b
}
