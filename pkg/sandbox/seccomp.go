//go:build linux

package sandbox

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The step's system calls go through a seccomp filter equivalent to
// Docker's default profile for what matters to a build: no new user
// namespaces (the way to capabilities the step was not given), no kernel
// keyrings, eBPF, perf, module loading, kexec, mounts or pivot_root, swap,
// reboot, setns, open_by_handle_at (the "shocker" escape), userfaultfd,
// io_uring, and no personality flags but Docker's. Denied calls fail with
// EPERM, as under Docker; clone3, whose flags a filter cannot read, fails
// with ENOSYS so that the C library falls back to clone, whose flags it
// can. The filter is a classic BPF program assembled here: no libseccomp,
// no cgo.

// sysTable is one architecture's calls.
type sysTable struct {
	arch uint32
	x32  bool // x86_64: the x32 calls are the same numbers with bit 30 set
	deny []uint32
	// Calls allowed depending on an argument; -1 where the architecture
	// lacks them.
	clone, clone3, unshare, personality, socket int64
}

var sysTables = []sysTable{
	{arch: unix.AUDIT_ARCH_X86_64, x32: true, clone: 56, clone3: 435, unshare: 272, personality: 135, socket: 41, deny: []uint32{
		248, 250, 249, // add_key, keyctl, request_key
		321, 298, 323, // bpf, perf_event_open, userfaultfd
		246, 320, 175, 313, 176, 174, 177, 178, // kexec_load, kexec_file_load, init/finit/delete/create_module, get_kernel_syms, query_module
		165, 166, 155, 430, 431, 432, 433, 429, 428, 442, 467, // mount, umount2, pivot_root, the new mount API
		167, 168, 169, 308, 304, // swapon, swapoff, reboot, setns, open_by_handle_at
		163, 179, 443, 212, 180, 134, 136, 139, 156, // acct, quotactl(_fd), lookup_dcookie, nfsservctl, uselib, ustat, sysfs, _sysctl
		172, 173, 103, 164, 227, 153, 300, 312, // iopl, ioperm, syslog, settimeofday, clock_settime, vhangup, fanotify_init, kcmp
		425, 426, 427, // io_uring
	}},
	{arch: unix.AUDIT_ARCH_I386, clone: 120, clone3: 435, unshare: 310, personality: 136, socket: 359, deny: []uint32{
		286, 288, 287,
		357, 336, 374,
		283, 128, 350, 129, 127, 130, 167,
		21, 22, 52, 217, 430, 431, 432, 433, 429, 428, 442, 467,
		87, 115, 88, 346, 342,
		51, 131, 443, 253, 169, 86, 62, 135, 149,
		166, 113, 110, 101, 103, 79, 25, 264, 404, 111, 338, 349, // vm86, vm86old, …, stime, clock_settime(64)
		425, 426, 427,
	}},
	{arch: unix.AUDIT_ARCH_AARCH64, clone: 220, clone3: 435, unshare: 97, personality: 92, socket: 198, deny: []uint32{
		217, 219, 218,
		280, 241, 282,
		104, 294, 105, 273, 106,
		40, 39, 41, 430, 431, 432, 433, 429, 428, 442, 467,
		224, 225, 142, 268, 265,
		89, 60, 443, 18, 42,
		116, 170, 112, 58, 262, 272,
		425, 426, 427,
	}},
	{arch: unix.AUDIT_ARCH_ARM, clone: 120, clone3: 435, unshare: 337, personality: 136, socket: 281, deny: []uint32{
		309, 311, 310,
		386, 364, 388,
		347, 401, 128, 379, 129,
		21, 52, 218, 430, 431, 432, 433, 429, 428, 442, 467,
		87, 115, 88, 375, 371,
		51, 131, 443, 249, 169, 86, 62, 135, 149,
		103, 79, 262, 404, 111, 367, 378,
		425, 426, 427,
	}},
}

const (
	// Namespaces a clone may not make (CLONE_NEWNS, NEWCGROUP, NEWUTS,
	// NEWIPC, NEWUSER, NEWPID, NEWNET); unshare also CLONE_NEWTIME.
	cloneNamespaces   = 0x7e020000
	unshareNamespaces = cloneNamespaces | 0x80
	afVsock           = 40 // Docker denies vsock sockets: a way to the host
	x32Bit            = 0x40000000

	retAllow  = unix.SECCOMP_RET_ALLOW
	retEPERM  = unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
	retENOSYS = unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)
	retKill   = unix.SECCOMP_RET_KILL_PROCESS

	offNr   = 0  // struct seccomp_data: int nr
	offArch = 4  // __u32 arch
	offArg0 = 16 // __u64 args[0]; its low half on little-endian machines
)

// personalities Docker allows: PER_LINUX, PER_LINUX32, UNAME26, both, and
// the query.
var personalities = []uint32{0x0, 0x8, 0x20000, 0x20008, 0xffffffff}

// seccompProgram assembles the filter.
func seccompProgram() ([]unix.SockFilter, error) {
	var a bpfAsm
	a.load(offArch)
	for i, t := range sysTables {
		a.jeq(t.arch, fmt.Sprintf("arch%d", i))
	}
	a.ret(retKill)             // an architecture the filter does not know
	for i := range sysTables { // trampolines: a block can be far
		a.label(fmt.Sprintf("arch%d", i))
		a.ja(fmt.Sprintf("calls%d", i))
	}
	for i, t := range sysTables {
		p := fmt.Sprintf("%d.", i)
		a.label(fmt.Sprintf("calls%d", i))
		a.load(offNr)
		if t.x32 {
			a.and(^uint32(x32Bit))
		}
		for _, nr := range t.deny {
			a.jeq(nr, p+"eperm")
		}
		for _, c := range []struct {
			nr    int64
			label string
		}{{t.clone, "clone"}, {t.unshare, "unshare"}, {t.clone3, "enosys"}, {t.personality, "personality"}, {t.socket, "socket"}} {
			if c.nr >= 0 {
				a.jeq(uint32(c.nr), p+c.label)
			}
		}
		a.ret(retAllow)
		a.label(p + "clone")
		a.load(offArg0)
		a.jset(cloneNamespaces, p+"eperm")
		a.ret(retAllow)
		a.label(p + "unshare")
		a.load(offArg0)
		a.jset(unshareNamespaces, p+"eperm")
		a.ret(retAllow)
		a.label(p + "personality")
		a.load(offArg0)
		for _, v := range personalities {
			a.jeq(v, p+"allow")
		}
		a.ret(retEPERM)
		a.label(p + "socket")
		a.load(offArg0)
		a.jeq(afVsock, p+"eperm")
		a.label(p + "allow")
		a.ret(retAllow)
		a.label(p + "eperm")
		a.ret(retEPERM)
		a.label(p + "enosys")
		a.ret(retENOSYS)
	}
	return a.assemble()
}

// installSeccomp installs the filter on every thread of the child, without
// no_new_privs: the child holds CAP_SYS_ADMIN in its namespace when it
// installs it (as Docker's runc does before it drops capabilities), so
// setuid programs in the step (su, sudo) still work.
func installSeccomp() error {
	switch runtime.GOARCH {
	case "amd64", "386", "arm64", "arm":
	default:
		return nil // no table for this machine: Docker's profile has more; gantry's does not yet
	}
	prog, err := seccompProgram()
	if err != nil {
		return err
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	_, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&fprog)))
	if errno == unix.ENOSYS { // before Linux 3.17: this thread, the one that execs
		err = unix.Prctl(unix.PR_SET_SECCOMP, unix.SECCOMP_MODE_FILTER, uintptr(unsafe.Pointer(&fprog)), 0, 0)
	} else if errno != 0 {
		err = errno
	}
	runtime.KeepAlive(prog)
	if err != nil {
		return fmt.Errorf("installing the seccomp filter: %w (the kernel needs CONFIG_SECCOMP_FILTER)", err)
	}
	return nil
}

// bpfAsm assembles a classic BPF program with named jump targets.
type bpfAsm struct {
	prog   []unix.SockFilter
	labels map[string]int
	jumps  []bpfJump
}

type bpfJump struct {
	at    int
	label string
	long  bool // ja: the offset is K, not Jt
}

func (a *bpfAsm) load(off uint32) {
	a.prog = append(a.prog, unix.SockFilter{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: off})
}
func (a *bpfAsm) and(k uint32) {
	a.prog = append(a.prog, unix.SockFilter{Code: unix.BPF_ALU | unix.BPF_AND | unix.BPF_K, K: k})
}
func (a *bpfAsm) ret(k uint32) {
	a.prog = append(a.prog, unix.SockFilter{Code: unix.BPF_RET | unix.BPF_K, K: k})
}
func (a *bpfAsm) jeq(k uint32, to string)  { a.jump(unix.BPF_JEQ, k, to) }
func (a *bpfAsm) jset(k uint32, to string) { a.jump(unix.BPF_JSET, k, to) }
func (a *bpfAsm) jump(op uint16, k uint32, to string) {
	a.jumps = append(a.jumps, bpfJump{at: len(a.prog), label: to})
	a.prog = append(a.prog, unix.SockFilter{Code: unix.BPF_JMP | op | unix.BPF_K, K: k})
}
func (a *bpfAsm) ja(to string) {
	a.jumps = append(a.jumps, bpfJump{at: len(a.prog), label: to, long: true})
	a.prog = append(a.prog, unix.SockFilter{Code: unix.BPF_JMP | unix.BPF_JA})
}
func (a *bpfAsm) label(name string) {
	if a.labels == nil {
		a.labels = map[string]int{}
	}
	a.labels[name] = len(a.prog)
}

func (a *bpfAsm) assemble() ([]unix.SockFilter, error) {
	for _, j := range a.jumps {
		to, ok := a.labels[j.label]
		if !ok {
			return nil, fmt.Errorf("seccomp filter: no label %s", j.label)
		}
		off := to - j.at - 1
		switch {
		case off < 0:
			return nil, errors.New("seccomp filter: a jump backwards")
		case j.long:
			a.prog[j.at].K = uint32(off)
		case off > 255:
			return nil, fmt.Errorf("seccomp filter: jump to %s too far (%d)", j.label, off)
		default:
			a.prog[j.at].Jt = uint8(off)
		}
	}
	if len(a.prog) > unix.BPF_MAXINSNS {
		return nil, errors.New("seccomp filter: too long")
	}
	return a.prog, nil
}
