//go:build linux

package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// devNodes are the device nodes of a container's /dev (runc's default set).
var devNodes = []struct {
	name         string
	major, minor uint32
}{{"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0}}

// devLinks are the symbolic links of a container's /dev: bash's process
// substitution opens /dev/fd/N, scripts write to /dev/stderr.
var devLinks = [][2]string{
	{"fd", "/proc/self/fd"}, {"stdin", "/proc/self/fd/0"}, {"stdout", "/proc/self/fd/1"},
	{"stderr", "/proc/self/fd/2"}, {"ptmx", "pts/ptmx"},
}

// populateDev fills dev, the sandbox's fresh /dev tmpfs (mounted nodev: a
// node the step makes there cannot be opened). Each device node is a mount
// of its own: as root, a node of a private tmpfs, so that chmod or chown in
// the step changes the sandbox's node, never the host's; where gantry
// cannot make nodes (in a user namespace), the host's node bound read-only,
// where chmod and chown fail with EROFS while reads and writes work.
func populateDev(dev string) error {
	if err := privateNodes(dev); errors.Is(err, unix.EPERM) {
		err = bindHostNodes(dev)
		if err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	for _, l := range devLinks {
		if err := os.Symlink(l[1], filepath.Join(dev, l[0])); err != nil {
			return fmt.Errorf("/dev/%s: %w", l[0], err)
		}
	}
	// A devpts instance of the sandbox's own: its ptys are not the host's.
	pts := filepath.Join(dev, "pts")
	if err := os.Mkdir(pts, 0o755); err != nil {
		return err
	}
	const ptsFlags = unix.MS_NOSUID | unix.MS_NOEXEC
	if err := unix.Mount("devpts", pts, "devpts", ptsFlags, "newinstance,ptmxmode=0666,mode=0620,gid=5"); err != nil {
		// gid 5 (tty) is not mapped in a rootless user namespace.
		if err := unix.Mount("devpts", pts, "devpts", ptsFlags, "newinstance,ptmxmode=0666,mode=0620"); err != nil {
			return fmt.Errorf("mounting /dev/pts: %w", err)
		}
	}
	shm := filepath.Join(dev, "shm")
	if err := os.Mkdir(shm, 0o1777); err != nil {
		return err
	}
	if err := unix.Mount("shm", shm, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=1777,size=65536k"); err != nil {
		return fmt.Errorf("mounting /dev/shm: %w", err)
	}
	return nil
}

// privateNodes makes the nodes in a tmpfs that allows devices, binds each
// into dev and lets the tmpfs go: the binds keep it. EPERM: no mknod here.
func privateNodes(dev string) error {
	src := filepath.Join(dev, ".nodes")
	if err := os.Mkdir(src, 0o700); err != nil {
		return err
	}
	defer os.Remove(src)
	if err := unix.Mount("tmpfs", src, "tmpfs", unix.MS_NOSUID|unix.MS_NOEXEC, "mode=700,size=16k"); err != nil {
		return fmt.Errorf("a tmpfs for /dev's nodes: %w", err)
	}
	defer unix.Unmount(src, unix.MNT_DETACH)
	for _, n := range devNodes {
		node := filepath.Join(src, n.name)
		if err := unix.Mknod(node, unix.S_IFCHR|0o666, int(unix.Mkdev(n.major, n.minor))); err != nil {
			if errors.Is(err, unix.EPERM) {
				return err
			}
			return fmt.Errorf("/dev/%s: %w", n.name, err)
		}
		if err := os.Chmod(node, 0o666); err != nil { // past the umask
			return fmt.Errorf("/dev/%s: %w", n.name, err)
		}
		if err := bindNode(node, filepath.Join(dev, n.name), 0); err != nil {
			return fmt.Errorf("/dev/%s: %w", n.name, err)
		}
	}
	return nil
}

// bindHostNodes binds the host's nodes read-only.
func bindHostNodes(dev string) error {
	for _, n := range devNodes {
		if err := bindNode("/dev/"+n.name, filepath.Join(dev, n.name), unix.MS_RDONLY); err != nil {
			return fmt.Errorf("/dev/%s: %w", n.name, err)
		}
	}
	return nil
}

func bindNode(src, target string, add uintptr) error {
	f, err := os.OpenFile(target, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o666)
	if err != nil {
		return err
	}
	f.Close()
	if err := unix.Mount(src, target, "", unix.MS_BIND, ""); err != nil {
		return err
	}
	return remount(target, add|unix.MS_NOSUID|unix.MS_NOEXEC)
}
