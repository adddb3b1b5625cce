//go:build linux

package sandbox

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// greeter is a TCP listener of the host's that says hello to whoever
// connects, and counts them.
type greeter struct {
	ln    net.Listener
	count atomic.Int32
}

func greet(t *testing.T, addr string) *greeter {
	t.Helper()
	ln, err := net.Listen("tcp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	g := &greeter{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			g.count.Add(1)
			c.Write([]byte("hello from " + addr + "\n"))
			c.Close()
		}
	}()
	return g
}

func (g *greeter) host() string { return g.ln.Addr().(*net.TCPAddr).IP.String() }
func (g *greeter) port() string { return strconv.Itoa(g.ln.Addr().(*net.TCPAddr).Port) }

// hostIPv4 is an address of the host's that is not loopback: what a
// build step reaches the host's public services by.
func hostIPv4(t *testing.T) string {
	t.Helper()
	ifaces, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLinkLocalUnicast() {
				return n.IP.String()
			}
		}
	}
	t.Fatal("the network tests need a non-loopback IPv4 address on the host")
	return ""
}

// probe is a script that connects to each greeter with bash's /dev/tcp
// and prints what it heard (or "refused"), then its network namespace.
func probe(gs ...*greeter) string {
	var b strings.Builder
	for _, g := range gs {
		b.WriteString("echo \"" + g.host() + ": $(timeout 5 bash -c 'cat </dev/tcp/" + g.host() + "/" + g.port() + "' 2>/dev/null || echo refused)\"\n")
	}
	b.WriteString("echo \"netns: $(readlink /proc/self/ns/net)\"\n")
	b.WriteString("echo \"ifaces: $(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort | tr '\\n' ' ')\"\n")
	return b.String()
}

// The default network is the step's own, as Docker's bridge and rootless
// Podman's pasta give a container: its loopback is not the host's (a
// service of the host's on 127.0.0.1 is out of its reach), and its traffic
// goes out through pasta, so it reaches the host's other addresses as any
// outside machine does. --network host is the host's, loopback included.
func TestDefaultNetworkIsTheSteps(t *testing.T) {
	h := newHostTools(t)
	lo := greet(t, "127.0.0.1:0")
	eth := greet(t, hostIPv4(t)+":0")
	hostNS, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	stdout, stderr, _, err := h.runSpec(t, Spec{Args: []string{"/bin/bash", "-c", probe(lo, eth)}, Network: "default"})
	if err != nil {
		t.Fatalf("run: %v\n%s%s", err, stdout, stderr)
	}
	if !strings.Contains(stdout, "127.0.0.1: refused") || lo.count.Load() != 0 {
		t.Errorf("the step reached the host's loopback (%d connections):\n%s%s", lo.count.Load(), stdout, stderr)
	}
	if !strings.Contains(stdout, eth.host()+": hello from "+eth.host()) {
		t.Errorf("the step did not reach the host's %s through pasta:\n%s%s", eth.host(), stdout, stderr)
	}
	if strings.Contains(stdout, "netns: "+hostNS) {
		t.Errorf("the step shares the host's network namespace %s:\n%s", hostNS, stdout)
	}
	if !strings.Contains(stdout, "ifaces: ") || strings.Contains(stdout, "ifaces: lo \n") {
		t.Errorf("the step's namespace has no interface but lo:\n%s", stdout)
	}
	noPastaLeft(t)

	// --network host: the host's namespace, loopback included.
	stdout, stderr, _, err = h.runSpec(t, Spec{Args: []string{"/bin/bash", "-c", probe(lo)}, Network: "host"})
	if err != nil || !strings.Contains(stdout, "127.0.0.1: hello from") || !strings.Contains(stdout, "netns: "+hostNS) {
		t.Errorf("--network host: %v\n%s%s", err, stdout, stderr)
	}
	// --network none: a namespace with lo only.
	stdout, stderr, _, err = h.runSpec(t, Spec{Args: []string{"/bin/bash", "-c", probe(eth)}, Network: "none"})
	if err != nil || !strings.Contains(stdout, eth.host()+": refused") || !strings.Contains(stdout, "ifaces: lo \n") {
		t.Errorf("--network none: %v\n%s%s", err, stdout, stderr)
	}
}

// noPastaLeft fails when a pasta the sandbox started outlives its run (it
// is killed as the run ends, and reaped a moment later).
func noPastaLeft(t *testing.T) {
	t.Helper()
	var left []string
	for try := 0; try < 50; try++ {
		if left = pastas(); len(left) == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf("pasta outlived the run: %v", left)
}

// pastas are the pasta processes this test process started.
func pastas() []string {
	var out []string
	entries, _ := os.ReadDir("/proc")
	me := strconv.Itoa(os.Getpid())
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "status"))
		if err != nil {
			continue
		}
		var name, ppid string
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "Name:"); ok {
				name = strings.TrimSpace(v)
			}
			if v, ok := strings.CutPrefix(l, "PPid:"); ok {
				ppid = strings.TrimSpace(v)
			}
		}
		if ppid == me && (strings.HasPrefix(name, "pasta") || strings.HasPrefix(name, "passt")) {
			out = append(out, e.Name()+" "+name)
		}
	}
	return out
}

// Without pasta the default network cannot be made: the run fails before
// the command starts, with a line that says what to install, or how to do
// without.
func TestDefaultNetworkWithoutPasta(t *testing.T) {
	h := newHostTools(t)
	t.Setenv("PATH", t.TempDir())
	count := t.TempDir()
	_, stderr, _, err := h.runSpec(t, Spec{Args: []string{"/bin/bash", "-c", "echo ran > /count/ran"}, Network: "default",
		Mounts: []Mount{{Type: "bind", Source: count, Target: "/count"}}})
	if err == nil || !strings.Contains(err.Error(), "passt") || !strings.Contains(err.Error(), "--network host") {
		t.Errorf("without pasta: %v\n%s", err, stderr)
	}
	if _, err := os.Stat(filepath.Join(count, "ran")); err == nil {
		t.Error("the command ran without its network")
	}
}

// fakeDNS answers A queries for name with ip on addr (UDP), and nothing
// else; it counts the queries for name.
func fakeDNS(t *testing.T, addr, name string, ip net.IP) *atomic.Int32 {
	t.Helper()
	pc, err := net.ListenPacket("udp4", addr)
	if err != nil {
		t.Fatalf("a resolver on %s: %v", addr, err)
	}
	t.Cleanup(func() { pc.Close() })
	var asked atomic.Int32
	go func() {
		buf := make([]byte, 512)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			q := buf[:n]
			if len(q) < 12 {
				continue
			}
			// The question: labels from byte 12, then type and class.
			var labels []string
			i := 12
			for i < len(q) && q[i] != 0 && i+1+int(q[i]) <= len(q) {
				labels = append(labels, string(q[i+1:i+1+int(q[i])]))
				i += 1 + int(q[i])
			}
			if i+5 > len(q) {
				continue
			}
			qtype := int(q[i+1])<<8 | int(q[i+2])
			question := q[12 : i+5]
			match := strings.EqualFold(strings.Join(labels, "."), name)
			if match {
				asked.Add(1)
			}
			answers := 0
			if match && qtype == 1 {
				answers = 1
			}
			resp := append([]byte{q[0], q[1], 0x81, 0x80, 0, 1, 0, byte(answers), 0, 0, 0, 0}, question...)
			if answers == 1 {
				resp = append(resp, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4)
				resp = append(resp, ip.To4()...)
			}
			pc.WriteTo(resp, from)
		}
	}()
	return &asked
}

// The step's resolv.conf names pasta's forwarder, which hands its queries
// to the host's resolver, loopback ones included (systemd-resolved's
// 127.0.0.53): names resolve as on the host, the host's search and options
// lines kept. The test runs itself again in a mount namespace of its own
// where the host's resolv.conf names a resolver of the test's.
func TestDefaultNetworkResolves(t *testing.T) {
	if os.Getenv(ownResolvEnv) == "" {
		newHostTools(t) // root, or skipped as the other sandbox tests
		cmd := exec.Command(os.Args[0], "-test.run=^TestDefaultNetworkResolves$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), ownResolvEnv+"=1")
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNS}
		if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "--- PASS") {
			t.Fatalf("in a mount namespace of its own: %v\n%s", err, out)
		}
		return
	}
	conf := filepath.Join(t.TempDir(), "resolv.conf")
	os.WriteFile(conf, []byte("# the host's\nnameserver 127.0.0.77\nnameserver 127.0.0.78\nsearch gantry.test\noptions ndots:1\n"), 0o644)
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount(conf, "/etc/resolv.conf", "", unix.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	h := newHostTools(t)
	asked := fakeDNS(t, "127.0.0.77:53", "probe.gantry.test", net.IPv4(192, 0, 2, 77))
	stdout, stderr, _, err := h.runSpec(t, Spec{Args: []string{"/bin/bash", "-c", "cat /etc/resolv.conf; getent ahostsv4 probe | head -1"}, Network: "default"})
	if err != nil {
		t.Fatalf("run: %v\n%s%s", err, stdout, stderr)
	}
	want := "nameserver 10.0.2.3\n# the host's\nsearch gantry.test\noptions ndots:1\n"
	if !strings.HasPrefix(stdout, want) {
		t.Errorf("the step's resolv.conf:\n%s\nwant:\n%s", stdout, want)
	}
	if !strings.Contains(stdout, "192.0.2.77") || asked.Load() == 0 {
		t.Errorf("probe did not resolve through the host's resolver (%d queries):\n%s%s", asked.Load(), stdout, stderr)
	}
	// Every user of the image reads it: apt resolves as _apt.
	stdout, stderr, _, err = h.runSpec(t, Spec{Args: []string{"/bin/bash", "-c", "cat /etc/resolv.conf; getent ahostsv4 probe | head -1"}, Network: "default", UID: 65534, GID: 65534})
	if err != nil || !strings.HasPrefix(stdout, want) || !strings.Contains(stdout, "192.0.2.77") {
		t.Errorf("as nobody: %v\n%s%s", err, stdout, stderr)
	}
}

// ownResolvEnv marks the test binary run again in a mount namespace of
// its own.
const ownResolvEnv = "GANTRY_SANDBOX_TEST_OWN_RESOLV"

// A build's steps on the default network share one namespace and one
// pasta (SharedNetwork), which outlives each step and ends with Close; the
// namespace is not the host's and reaches the host's address as a step's
// own does.
func TestSharedNetworkIsOnePastaForTheBuild(t *testing.T) {
	h := newHostTools(t)
	eth := greet(t, hostIPv4(t)+":0")
	hostNS, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	shared := NewSharedNetwork()
	var namespaces []string
	for step := 0; step < 2; step++ {
		stdout, stderr, _, err := h.runSpec(t, Spec{Args: []string{"/bin/bash", "-c", probe(eth)}, Network: "default", Shared: shared})
		if err != nil {
			t.Fatalf("step %d: %v\n%s%s", step, err, stdout, stderr)
		}
		if !strings.Contains(stdout, eth.host()+": hello from "+eth.host()) {
			t.Errorf("step %d did not reach the host's %s through pasta:\n%s%s", step, eth.host(), stdout, stderr)
		}
		_, ns, _ := strings.Cut(stdout, "netns: ")
		ns, _, _ = strings.Cut(ns, "\n")
		namespaces = append(namespaces, ns)
		if p := pastas(); len(p) != 1 {
			t.Errorf("after step %d: pastas %v, want the build's one", step, p)
		}
	}
	if namespaces[0] == "" || namespaces[0] != namespaces[1] || namespaces[0] == hostNS {
		t.Errorf("the steps' namespaces %q, want one that is not the host's %s", namespaces, hostNS)
	}
	shared.Close()
	noPastaLeft(t)
}

// Prepare starts the build's pasta before any step asks for it, and the
// first step uses that one; Close ends it. A build that ends at once after
// Prepare leaves no pasta either.
func TestSharedNetworkPreparedBeforeTheFirstStep(t *testing.T) {
	h := newHostTools(t)
	eth := greet(t, hostIPv4(t)+":0")
	shared := NewSharedNetwork()
	shared.Prepare(context.Background())
	deadline := time.Now().Add(10 * time.Second)
	for len(pastas()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	before := pastas()
	if len(before) != 1 {
		t.Fatalf("after Prepare: pastas %v, want one before any step", before)
	}
	stdout, stderr, _, err := h.runSpec(t, Spec{Args: []string{"/bin/bash", "-c", probe(eth)}, Network: "default", Shared: shared})
	if err != nil {
		t.Fatalf("%v\n%s%s", err, stdout, stderr)
	}
	if !strings.Contains(stdout, eth.host()+": hello from "+eth.host()) {
		t.Errorf("the step did not reach the host's %s through the prepared pasta:\n%s%s", eth.host(), stdout, stderr)
	}
	// The same process, by pid: pasta re-executes its AVX2 build in place,
	// so its name may have become passt.avx2 meanwhile.
	if after := pastas(); len(after) != 1 || strings.Fields(after[0])[0] != strings.Fields(before[0])[0] {
		t.Errorf("pastas %v after the step, want the prepared %v", after, before)
	}
	shared.Close()
	noPastaLeft(t)

	for range 5 {
		early := NewSharedNetwork()
		early.Prepare(context.Background())
		early.Close()
	}
	time.Sleep(500 * time.Millisecond) // a Prepare that lost the race to Close has tried by now
	noPastaLeft(t)
}
