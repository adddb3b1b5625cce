// Command escape is a hostile RUN step: it tries to leave the build's root
// filesystem and to reach the host's disks, and prints what it managed.
// TestSandboxConfinesRun builds it and runs it in gantry's sandbox.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

func main() {
	marker := os.Args[1]
	if marker == "-" { // the child of the user namespace attempt
		return
	}
	// The classic chroot escape: chroot into a subdirectory while the
	// working directory stays outside it, climb, chroot there.
	os.MkdirAll("/escape-jail", 0o755)
	if err := syscall.Chroot("/escape-jail"); err != nil {
		fmt.Println("chroot: refused:", err)
	} else {
		for i := 0; i < 64; i++ {
			syscall.Chdir("..")
		}
		syscall.Chroot(".")
		if b, err := os.ReadFile(marker); err == nil {
			fmt.Printf("ESCAPED: read the host's %s: %s\n", marker, strings.TrimSpace(string(b)))
		} else {
			fmt.Println("chroot escape: confined:", err)
		}
	}
	// Mounting needs CAP_SYS_ADMIN, which a build step does not get.
	if err := syscall.Mount("tmpfs", "/tmp", "tmpfs", 0, ""); err == nil {
		fmt.Println("ESCAPED: mounted a tmpfs")
	} else {
		fmt.Println("mount: refused:", err)
	}
	// A device node can be made (Docker allows it) but not opened.
	if err := syscall.Mknod("/escape-null", syscall.S_IFCHR|0o666, 1<<8|3); err != nil {
		fmt.Println("mknod: refused:", err)
	} else if f, err := os.OpenFile("/escape-null", os.O_WRONLY, 0); err == nil {
		f.Close()
		fmt.Println("ESCAPED: opened a device node made in the build")
	} else {
		fmt.Println("device node: made, not opened:", err)
	}
	// The kernel's knobs under /proc are read-only, its secrets masked, as
	// in a Docker build step. Opening for writing is the whole test: nothing
	// is written.
	for _, knob := range []string{"/proc/sysrq-trigger", "/proc/sys/kernel/domainname"} {
		if f, err := os.OpenFile(knob, os.O_WRONLY, 0); err == nil {
			f.Close()
			fmt.Println("ESCAPED: opened for writing:", knob)
		} else {
			fmt.Println("proc: read-only:", knob, err)
		}
	}
	if f, err := os.Open("/proc/kcore"); err == nil {
		n, _ := f.Read(make([]byte, 16))
		f.Close()
		if n > 0 {
			fmt.Println("ESCAPED: read /proc/kcore")
		} else {
			fmt.Println("proc: masked: /proc/kcore")
		}
	} else {
		fmt.Println("proc: masked: /proc/kcore", err)
	}
	// The terminal gantry runs in is not the step's: through it, a step
	// could type commands into the user's shell (TIOCSTI).
	if f, err := os.OpenFile("/dev/tty", os.O_RDWR, 0); err == nil {
		f.Close()
		fmt.Println("ESCAPED: opened the controlling terminal")
	} else {
		fmt.Println("terminal: none:", err)
	}
	// The host's resolv.conf and hosts are lent to the step read-only.
	for _, f := range []string{"/etc/hosts", "/etc/resolv.conf"} {
		if h, err := os.OpenFile(f, os.O_WRONLY|os.O_APPEND, 0); err == nil {
			h.Close()
			fmt.Println("ESCAPED: the host's", f, "is writable")
		} else {
			fmt.Println("host file: read-only:", f, err)
		}
	}
	// Kernel keyrings are not namespaced: the session keyring gantry was
	// started with (the user's secrets) must not be the step's.
	if id, err := unix.KeyctlSearch(unix.KEY_SPEC_SESSION_KEYRING, "user", "gantry-e2e-secret", 0); err == nil {
		buf := make([]byte, 64)
		n, _ := unix.KeyctlBuffer(unix.KEYCTL_READ, id, buf, 0)
		fmt.Printf("ESCAPED: read a key of the user's session keyring: %q\n", buf[:max(n, 0)])
	} else {
		fmt.Println("keyring: not reachable:", err)
	}
	// A user namespace would give the step every capability over what it
	// makes: the seccomp filter refuses it, as Docker's default profile
	// does, with the kernel's keyrings and eBPF.
	cmd := exec.Command("/escape", "-")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUSER}
	if err := cmd.Run(); err == nil {
		fmt.Println("ESCAPED: made a user namespace")
	} else {
		fmt.Println("user namespace: refused:", err)
	}
	if _, err := unix.KeyctlInt(unix.KEYCTL_GET_KEYRING_ID, unix.KEY_SPEC_SESSION_KEYRING, 0, 0, 0); err == nil {
		fmt.Println("ESCAPED: keyctl works")
	} else {
		fmt.Println("keyctl: refused:", err)
	}
	if _, _, errno := unix.Syscall(unix.SYS_BPF, 0, 0, 0); errno == unix.EPERM {
		fmt.Println("bpf: refused:", errno)
	} else {
		fmt.Println("ESCAPED: bpf answered:", errno)
	}
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "CapBnd:") || strings.HasPrefix(l, "NoNewPrivs:") || strings.HasPrefix(l, "Seccomp:") {
			fmt.Println(l)
		}
	}
}
