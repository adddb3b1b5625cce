package dockerfile

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// MemorySecret keeps a secret in an anonymous memory file (memfd): it never
// reaches a disk and is gone when the file is closed. Path names it for as
// long as the file is open, for this process and its children.
func MemorySecret(id string, data []byte, uid, gid int, mode os.FileMode) (*os.File, error) {
	fd, err := unix.MemfdCreate("gantry-secret-"+id, unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("secret %s: memfd: %w", id, err)
	}
	f := os.NewFile(uintptr(fd), "secret-"+id)
	if _, err := f.Write(data); err != nil {
		f.Close()
		return nil, fmt.Errorf("secret %s: %w", id, err)
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return nil, fmt.Errorf("secret %s: %w", id, err)
	}
	if uid != os.Geteuid() || gid != os.Getegid() {
		if err := f.Chown(uid, gid); err != nil {
			f.Close()
			return nil, fmt.Errorf("secret %s: owner %d:%d: %w", id, uid, gid, err)
		}
	}
	return f, nil
}
