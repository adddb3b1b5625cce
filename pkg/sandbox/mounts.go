package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

var errNoOverlay = errors.New("overlayfs cannot be mounted")

// setup runs inside the new namespaces: mounts, chroot, identity.
func setup(s childSpec) error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("making mounts private: %w", err)
	}
	if s.Copied {
		if err := unix.Mount(s.Upper, s.Merged, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("binding the root filesystem: %w", err)
		}
	} else {
		opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", s.Lower, s.Upper, s.Work)
		if s.UserXattr {
			opts += ",userxattr"
		}
		if err := unix.Mount("overlay", s.Merged, "overlay", 0, opts); err != nil {
			return fmt.Errorf("%w: %v", errNoOverlay, err)
		}
	}
	m := s.Merged
	if err := mountAt(m, "proc", "proc", "proc", 0, ""); err != nil {
		return err
	}
	if err := mountAt(m, "dev", "tmpfs", "tmpfs", unix.MS_NOSUID, "mode=755,size=65536k"); err != nil {
		return err
	}
	for _, dev := range []string{"null", "zero", "full", "random", "urandom", "tty"} {
		target := filepath.Join(m, "dev", dev)
		if f, err := os.Create(target); err == nil {
			f.Close()
		}
		if err := unix.Mount("/dev/"+dev, target, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("/dev/%s: %w", dev, err)
		}
	}
	os.MkdirAll(filepath.Join(m, "dev", "shm"), 0o1777)
	unix.Mount("shm", filepath.Join(m, "dev", "shm"), "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=1777,size=65536k")
	for _, f := range []string{"/etc/resolv.conf", "/etc/hosts"} {
		if _, err := os.Stat(f); err != nil {
			continue
		}
		target := filepath.Join(m, f)
		if err := ensureFile(target); err != nil {
			return err
		}
		if err := unix.Mount(f, target, "", unix.MS_BIND|unix.MS_RDONLY, ""); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
	}
	for _, mt := range s.Mounts {
		if err := runMount(m, mt); err != nil {
			return fmt.Errorf("--mount target=%s: %w", mt.Target, err)
		}
	}
	unix.Sethostname([]byte("gantry"))
	if err := unix.Chroot(m); err != nil {
		return fmt.Errorf("chroot: %w", err)
	}
	dir := s.Dir
	if dir == "" {
		dir = "/"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("working directory %s: %w", dir, err)
	}
	if err := os.Chdir(dir); err != nil {
		return fmt.Errorf("working directory %s: %w", dir, err)
	}
	if !s.Rootless { // setgroups is denied in a rootless user namespace
		if err := syscall.Setgroups(nil); err != nil {
			return err
		}
	}
	if err := syscall.Setgid(s.GID); err != nil {
		return fmt.Errorf("group %d: %w", s.GID, err)
	}
	if err := syscall.Setuid(s.UID); err != nil {
		return fmt.Errorf("user %d: %w", s.UID, err)
	}
	return nil
}

func mountAt(root, rel, source, fstype string, flags uintptr, data string) error {
	target := filepath.Join(root, rel)
	if err := os.MkdirAll(target, 0o755); err != nil {
		return err
	}
	if err := unix.Mount(source, target, fstype, flags, data); err != nil {
		return fmt.Errorf("mounting /%s: %w", rel, err)
	}
	return nil
}

func ensureFile(p string) error {
	if _, err := os.Lstat(p); err == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	return f.Close()
}

func runMount(root string, m Mount) error {
	target := filepath.Join(root, filepath.Clean("/"+m.Target))
	if m.Type == "tmpfs" {
		if err := os.MkdirAll(target, 0o755); err != nil {
			return err
		}
		return unix.Mount("tmpfs", target, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=1777")
	}
	fi, err := os.Stat(m.Source)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		err = os.MkdirAll(target, 0o755)
	} else {
		err = ensureFile(target)
	}
	if err != nil {
		return err
	}
	if err := unix.Mount(m.Source, target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return err
	}
	if m.ReadOnly {
		return unix.Mount("", target, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY|unix.MS_REC, "")
	}
	return nil
}
