//go:build linux

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

// setup runs inside the new namespaces: mounts, root switch, identity.
// What it creates for its mounts, t records.
func setup(s childSpec, t *tree) error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("making mounts private: %w", err)
	}
	// The root is nodev: a RUN step may make device nodes (they go into the
	// layer, as with Docker) but not open them and reach the host's disks.
	if s.Copied {
		if err := unix.Mount(s.Upper, s.Merged, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("binding the root filesystem: %w", err)
		}
		if err := remount(s.Merged, unix.MS_NODEV); err != nil {
			return fmt.Errorf("binding the root filesystem: %w", err)
		}
	} else {
		opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", s.Lower, s.Upper, s.Work)
		if s.UserXattr {
			opts += ",userxattr"
		}
		if err := unix.Mount("overlay", s.Merged, "overlay", unix.MS_NODEV, opts); err != nil {
			return fmt.Errorf("%w: %v", errNoOverlay, err)
		}
	}
	proc, err := t.mount("/proc", "proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
	if err != nil {
		return err
	}
	if err := confineProc(proc); err != nil {
		return err
	}
	dev, err := t.mount("/dev", "tmpfs", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=755,size=65536k")
	if err != nil {
		return err
	}
	if err := populateDev(dev); err != nil {
		return err
	}
	// The host's files are lent read-only (a bind ignores MS_RDONLY until
	// it is remounted): the step must not rewrite the host's name service.
	hosts, resolv := "/etc/hosts", "/etc/resolv.conf"
	if s.HostsFile != "" {
		hosts = s.HostsFile
	}
	if s.ResolvConf != "" {
		resolv = s.ResolvConf
	}
	for _, f := range [][2]string{{"/etc/resolv.conf", resolv}, {"/etc/hosts", hosts}} {
		if _, err := os.Stat(f[1]); err != nil {
			continue
		}
		if err := runMount(t, Mount{Type: "bind", Source: f[1], Target: f[0], ReadOnly: true}); err != nil {
			return fmt.Errorf("%s: %w", f[0], err)
		}
	}
	for _, mt := range s.Mounts {
		// A RUN mount at /dev/shm replaces the sandbox's own, as BuildKit's
		// spec drops a default mount that a mount of the step covers.
		if filepath.Clean(mt.Target) == "/dev/shm" {
			if err := unix.Unmount(filepath.Join(dev, "shm"), unix.MNT_DETACH); err != nil {
				return fmt.Errorf("--mount target=%s: %w", mt.Target, err)
			}
		}
		if err := runMount(t, mt); err != nil {
			return fmt.Errorf("--mount target=%s: %w", mt.Target, err)
		}
	}
	m := s.Merged
	hostname := s.Hostname
	if hostname == "" {
		hostname = "gantry"
	}
	if err := unix.Sethostname([]byte(hostname)); err != nil {
		return fmt.Errorf("hostname %q: %w", hostname, err)
	}
	if err := pivotRoot(m); err != nil {
		return err
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
	if s.TTY {
		if err := takeConsole(s); err != nil {
			return err
		}
	}
	// Kernel keyrings are not namespaced: a new anonymous session keyring
	// keeps the keys of the session gantry runs in (the user's secrets) out
	// of the step's reach.
	if _, _, errno := unix.Syscall(unix.SYS_KEYCTL, unix.KEYCTL_JOIN_SESSION_KEYRING, 0, 0); errno != 0 && errno != unix.ENOSYS {
		return fmt.Errorf("a session keyring of its own: %w", errno)
	}
	if err := setUlimits(s.Ulimits); err != nil {
		return err
	}
	// While the child still holds CAP_SYS_ADMIN: no no_new_privs needed.
	if err := installSeccomp(); err != nil {
		return err
	}
	// Before the identity changes: a command that runs as another user
	// can still gain file capabilities up to this bound.
	if err := limitCapabilities(); err != nil {
		return err
	}
	if !s.Rootless { // setgroups is denied in a rootless user namespace
		if err := syscall.Setgroups(s.Groups); err != nil {
			return fmt.Errorf("supplementary groups %v: %w", s.Groups, err)
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

// Docker's read-only and masked paths of /proc: the kernel's knobs stay
// out of a build step's reach, its secrets out of its sight.
var (
	readonlyProc = []string{"bus", "fs", "irq", "sys", "sysrq-trigger"}
	maskedProc   = []string{"acpi", "kcore", "keys", "latency_stats", "timer_list", "timer_stats", "sched_debug", "scsi"}
)

func confineProc(proc string) error {
	for _, name := range readonlyProc {
		p := filepath.Join(proc, name)
		if _, err := os.Lstat(p); err != nil {
			continue // not in this kernel
		}
		if err := unix.Mount(p, p, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("/proc/%s read-only: %w", name, err)
		}
		if err := remount(p, unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC); err != nil {
			return fmt.Errorf("/proc/%s read-only: %w", name, err)
		}
	}
	for _, name := range maskedProc {
		p := filepath.Join(proc, name)
		fi, err := os.Lstat(p)
		if err != nil {
			continue
		}
		if fi.IsDir() {
			err = unix.Mount("tmpfs", p, "tmpfs", unix.MS_RDONLY, "size=0")
		} else {
			err = unix.Mount("/dev/null", p, "", unix.MS_BIND, "")
		}
		if err != nil {
			return fmt.Errorf("masking /proc/%s: %w", name, err)
		}
	}
	return nil
}

// remount adds flags to the bind mount at target, keeping the ones it has:
// in a user namespace, flags the mount came with (nosuid, an atime mode)
// are locked, and a remount that drops them is refused.
func remount(target string, add uintptr) error {
	var st unix.Statfs_t
	if err := unix.Statfs(target, &st); err != nil {
		return err
	}
	keep := uintptr(0)
	for _, f := range []struct{ st, ms uintptr }{
		{unix.ST_RDONLY, unix.MS_RDONLY}, {unix.ST_NOSUID, unix.MS_NOSUID}, {unix.ST_NODEV, unix.MS_NODEV},
		{unix.ST_NOEXEC, unix.MS_NOEXEC}, {unix.ST_NOATIME, unix.MS_NOATIME}, {unix.ST_NODIRATIME, unix.MS_NODIRATIME},
		{unix.ST_RELATIME, unix.MS_RELATIME},
	} {
		if uintptr(st.Flags)&f.st != 0 {
			keep |= f.ms
		}
	}
	return unix.Mount("", target, "", unix.MS_BIND|unix.MS_REMOUNT|keep|add, "")
}

// pivotRoot makes root the root of this mount namespace and detaches the
// old one, host filesystem and all: unlike chroot, nothing is left to climb
// back to (a root process can leave a chroot by chrooting again).
func pivotRoot(root string) error {
	oldroot, err := unix.Open("/", unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	defer unix.Close(oldroot)
	newroot, err := unix.Open(root, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	defer unix.Close(newroot)
	// pivot_root(".", ".") stacks the old root on the new one, as runc
	// does: no directory for it is needed in the image.
	if err := unix.Fchdir(newroot); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	if err := unix.Fchdir(oldroot); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	if err := unix.Mount("", ".", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detaching the host's root: %w", err)
	}
	return unix.Chdir("/")
}

// buildCapabilities is the bounding set Docker gives a build step (and a
// container): CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, SETGID, SETUID,
// SETPCAP, NET_BIND_SERVICE, NET_RAW, SYS_CHROOT, MKNOD, AUDIT_WRITE and
// SETFCAP. Without CAP_SYS_ADMIN and the like, a step cannot mount, load
// modules or touch the kernel's settings.
const buildCapabilities = 1<<unix.CAP_CHOWN | 1<<unix.CAP_DAC_OVERRIDE | 1<<unix.CAP_FOWNER | 1<<unix.CAP_FSETID |
	1<<unix.CAP_KILL | 1<<unix.CAP_SETGID | 1<<unix.CAP_SETUID | 1<<unix.CAP_SETPCAP | 1<<unix.CAP_NET_BIND_SERVICE |
	1<<unix.CAP_NET_RAW | 1<<unix.CAP_SYS_CHROOT | 1<<unix.CAP_MKNOD | 1<<unix.CAP_AUDIT_WRITE | 1<<unix.CAP_SETFCAP

// limitCapabilities drops every other capability from the bounding set: a
// command run as root gets exactly buildCapabilities at exec.
func limitCapabilities() error {
	last := unix.CAP_LAST_CAP
	if b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap"); err == nil {
		fmt.Sscanf(string(b), "%d", &last)
	}
	for c := 0; c <= last; c++ {
		if c < 64 && buildCapabilities&(1<<c) != 0 {
			continue
		}
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil && !errors.Is(err, unix.EINVAL) {
			return fmt.Errorf("dropping capability %d: %w", c, err)
		}
	}
	return nil
}

// mount mounts a file system at the folder p of the image, made as
// needed, and returns where it is mounted (a path without links).
func (t *tree) mount(p, source, fstype string, flags uintptr, data string) (string, error) {
	tg, err := t.dir(p)
	if err != nil {
		return "", err
	}
	defer tg.close()
	if err := unix.Mount(source, tg.path(), fstype, flags, data); err != nil {
		return "", fmt.Errorf("mounting %s: %w", p, err)
	}
	return filepath.Join(t.root, tg.rel), nil
}

// runMount makes a RUN --mount (or a file the sandbox lends) at its
// target. Binds are nodev: a device node in a bound folder (a cache the
// step filled, a host folder) must not open the host's devices.
func runMount(t *tree, m Mount) error {
	switch m.Type {
	case "tmpfs":
		_, err := t.mount(m.Target, "tmpfs", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, tmpfsData(m.Size))
		return err
	case "file":
		return memoryFile(t, m)
	}
	fi, err := os.Stat(m.Source)
	if err != nil {
		return err
	}
	var tg target
	if fi.IsDir() {
		tg, err = t.dir(m.Target)
	} else {
		tg, err = t.file(m.Target)
	}
	if err != nil {
		return err
	}
	defer tg.close()
	if err := unix.Mount(m.Source, tg.path(), "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return err
	}
	attrs, flags := uint64(unix.MOUNT_ATTR_NODEV), uintptr(unix.MS_NODEV)
	if m.ReadOnly {
		attrs, flags = attrs|unix.MOUNT_ATTR_RDONLY, flags|unix.MS_RDONLY
	}
	return restrictTree(filepath.Join(t.root, tg.rel), attrs, flags)
}

// tmpfsData is a RUN tmpfs mount's options: BuildKit's size, if given.
func tmpfsData(size int64) string {
	if size > 0 {
		return fmt.Sprintf("mode=1777,size=%d", size)
	}
	return "mode=1777"
}

// restrictTree adds attrs to the mount at target and every mount under it
// (a bound folder's own submounts); before Linux 5.12, which lacks
// mount_setattr, to the top mount only.
func restrictTree(target string, attrs uint64, flags uintptr) error {
	err := unix.MountSetattr(unix.AT_FDCWD, target, unix.AT_RECURSIVE|unix.AT_SYMLINK_NOFOLLOW, &unix.MountAttr{Attr_set: attrs})
	if errors.Is(err, unix.ENOSYS) {
		err = remount(target, flags)
	}
	return err
}

// memoryFile puts m.Data at m.Target, read-only: written into a small
// tmpfs mounted in this private mount namespace only, then bound at the
// target, so nothing of it is on a disk and the tmpfs goes with the
// namespace.
func memoryFile(t *tree, m Mount) error {
	tg, err := t.file(m.Target)
	if err != nil {
		return err
	}
	defer tg.close()
	stage, err := os.MkdirTemp("", ".gantry-file-*")
	if err != nil {
		return err
	}
	defer os.Remove(stage)
	if err := unix.Mount("tmpfs", stage, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=0700,size=1m"); err != nil {
		return err
	}
	defer unix.Unmount(stage, unix.MNT_DETACH)
	p := filepath.Join(stage, "f")
	if err := os.WriteFile(p, m.Data, 0o600); err != nil {
		return err
	}
	if err := os.Chmod(p, os.FileMode(m.Mode)&os.ModePerm); err != nil {
		return err
	}
	if err := os.Lchown(p, m.UID, m.GID); err != nil {
		return err
	}
	if err := unix.Mount(p, tg.path(), "", unix.MS_BIND, ""); err != nil {
		return err
	}
	return restrictTree(filepath.Join(t.root, tg.rel), unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_RDONLY, unix.MS_NODEV|unix.MS_RDONLY)
}
