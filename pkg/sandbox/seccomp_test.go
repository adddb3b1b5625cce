//go:build linux

package sandbox

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// runBPF runs a classic BPF program (the instructions seccompProgram uses)
// on a struct seccomp_data.
func runBPF(t *testing.T, prog []unix.SockFilter, arch, nr uint32, arg0 uint64) uint32 {
	t.Helper()
	data := make([]byte, 64)
	binary.LittleEndian.PutUint32(data[0:], nr)
	binary.LittleEndian.PutUint32(data[4:], arch)
	binary.LittleEndian.PutUint64(data[16:], arg0)
	var acc uint32
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		switch in.Code {
		case unix.BPF_LD | unix.BPF_W | unix.BPF_ABS:
			acc = binary.LittleEndian.Uint32(data[in.K:])
		case unix.BPF_ALU | unix.BPF_AND | unix.BPF_K:
			acc &= in.K
		case unix.BPF_RET | unix.BPF_K:
			return in.K
		case unix.BPF_JMP | unix.BPF_JA:
			pc += int(in.K)
		case unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K:
			if acc == in.K {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		case unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K:
			if acc&in.K != 0 {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		default:
			t.Fatalf("instruction %d: unknown code %#x", pc, in.Code)
		}
	}
	t.Fatal("the program ran off its end")
	return 0
}

func TestSeccompProgram(t *testing.T) {
	prog, err := seccompProgram()
	if err != nil {
		t.Fatal(err)
	}
	const (
		x86, i386, a64, arm = unix.AUDIT_ARCH_X86_64, unix.AUDIT_ARCH_I386, unix.AUDIT_ARCH_AARCH64, unix.AUDIT_ARCH_ARM
		newUser             = unix.CLONE_NEWUSER
		thread              = unix.CLONE_VM | unix.CLONE_FS | unix.CLONE_FILES | unix.CLONE_SIGHAND | unix.CLONE_THREAD
	)
	cases := []struct {
		name     string
		arch, nr uint32
		arg0     uint64
		want     uint32
	}{
		{"x86_64 read", x86, 0, 0, retAllow},
		{"x86_64 keyctl", x86, 250, 0, retEPERM},
		{"x32 keyctl", x86, 250 | x32Bit, 0, retEPERM},
		{"x86_64 mount", x86, 165, 0, retEPERM},
		{"x86_64 bpf", x86, 321, 0, retEPERM},
		{"x86_64 setns", x86, 308, 0, retEPERM},
		{"x86_64 clone of a thread", x86, 56, thread, retAllow},
		{"x86_64 fork", x86, 56, uint64(unix.SIGCHLD), retAllow},
		{"x86_64 clone of a user namespace", x86, 56, newUser | uint64(unix.SIGCHLD), retEPERM},
		{"x86_64 clone3", x86, 435, 0, retENOSYS},
		{"x86_64 unshare of a user namespace", x86, 272, newUser, retEPERM},
		{"x86_64 unshare of a mount namespace", x86, 272, unix.CLONE_NEWNS, retEPERM},
		{"x86_64 unshare of the files table", x86, 272, unix.CLONE_FILES, retAllow},
		{"x86_64 personality query", x86, 135, 0xffffffff, retAllow},
		{"x86_64 personality linux32", x86, 135, 8, retAllow},
		{"x86_64 personality no-randomize", x86, 135, 0x0040000, retEPERM},
		{"x86_64 inet socket", x86, 41, unix.AF_INET, retAllow},
		{"x86_64 vsock socket", x86, 41, afVsock, retEPERM},
		{"i386 keyctl", i386, 288, 0, retEPERM},
		{"i386 unshare of a user namespace", i386, 310, newUser, retEPERM},
		{"i386 write", i386, 4, 0, retAllow},
		{"aarch64 keyctl", a64, 219, 0, retEPERM},
		{"aarch64 clone of a user namespace", a64, 220, newUser, retEPERM},
		{"aarch64 clone of a thread", a64, 220, thread, retAllow},
		{"aarch64 openat", a64, 56, 0, retAllow},
		{"arm unshare of a user namespace", arm, 337, newUser, retEPERM},
		{"arm pivot_root", arm, 218, 0, retEPERM},
		{"an unknown architecture", unix.AUDIT_ARCH_PPC64LE, 0, 0, retKill},
	}
	for _, c := range cases {
		if got := runBPF(t, prog, c.arch, c.nr, c.arg0); got != c.want {
			t.Errorf("%s: %#x, want %#x", c.name, got, c.want)
		}
	}
}

// Inside the sandbox the filter holds (no user namespace, no keyring, no
// clone3), and without no_new_privs: a setuid program still gains its
// owner's id.
func TestSeccompInTheSandbox(t *testing.T) {
	h := newHostTools(t)
	self, _ := os.Executable()
	in, err := os.Open(self)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	suid := filepath.Join(h.lower, "suid-helper")
	out, err := os.OpenFile(suid, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(out, in)
	out.Close()
	if err := unix.Chmod(suid, 0o4755); err != nil { // os.Chmod has its own setuid bit
		t.Fatal(err)
	}
	stdout, stderr, _, err := h.run(t, `
unshare -U true || echo unshare-U-refused
unshare -r true || echo unshare-r-refused
for h in keyctl unshare-user clone3 personality; do `+helperEnv+`=$h /helper; done
grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status
setpriv --reuid 65534 --regid 65534 --clear-groups env `+helperEnv+`=euid /suid-helper
`)
	if err != nil {
		t.Fatalf("run: %v\n%s%s", err, stdout, stderr)
	}
	for _, want := range []string{"unshare-U-refused", "unshare-r-refused", "keyctl: operation not permitted", "unshare-user: operation not permitted",
		"clone3: function not implemented", "personality: operation not permitted", "NoNewPrivs:\t0", "Seccomp:\t2", "euid 0"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s\n%s", want, stdout, stderr)
		}
	}
	if !strings.Contains(stderr, "Operation not permitted") {
		t.Errorf("unshare did not fail with EPERM:\n%s", stderr)
	}
}

// seccompHelper makes the calls the filter denies, and says how they went.
func seccompHelper(name string) int {
	var err error
	switch name {
	case "keyctl":
		_, err = unix.KeyctlInt(unix.KEYCTL_GET_KEYRING_ID, unix.KEY_SPEC_SESSION_KEYRING, 0, 0, 0)
	case "unshare-user":
		err = unix.Unshare(unix.CLONE_NEWUSER)
	case "clone3":
		if _, _, e := unix.RawSyscall(unix.SYS_CLONE3, 0, 0, 0); e != 0 {
			err = e
		}
	case "personality":
		if _, _, e := unix.RawSyscall(unix.SYS_PERSONALITY, 0x0040000, 0, 0); e != 0 {
			err = e
		}
	case "euid":
		fmt.Printf("euid %d\n", os.Geteuid())
		return 0
	default:
		return -1
	}
	fmt.Printf("%s: %v\n", name, err)
	return 0
}
