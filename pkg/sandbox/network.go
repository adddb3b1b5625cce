//go:build linux

package sandbox

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gantry-build/gantry/pkg/userns"
)

// The step's side of pasta's network, slirp4netns's and rootlesskit's
// addresses: its own address (not the host's, so the host's addresses
// are outside machines to it), the gateway, and the DNS forwarder, which
// pasta maps to the host's first resolver.
const (
	netAddr    = "10.0.2.100"
	netPrefix  = "24"
	netGateway = "10.0.2.2"
	netDNS     = "10.0.2.3"
)

// pastaReady is how long pasta may take to set the namespace up.
const pastaReady = 30 * time.Second

func checkNetwork(n string) error {
	switch n {
	case "", NetworkDefault, NetworkHost, NetworkNone:
		return nil
	}
	return fmt.Errorf("network %q: use default, host or none", n)
}

// ownNetwork is what a run with the default network needs before its child
// starts: pasta, and the resolv.conf the step sees.
type ownNetwork struct {
	pasta string
	// resolver is the host's first IPv4 resolver, to which pasta forwards
	// the step's queries to netDNS; empty when the host has none.
	resolver string
	// resolvConf is the step's /etc/resolv.conf: the host's, its
	// nameservers replaced by netDNS.
	resolvConf []byte
}

// prepareOwnNetwork finds pasta and checks it can make a tap device, so
// that a missing piece is said before anything runs, with what to do.
func prepareOwnNetwork() (*ownNetwork, error) {
	pasta, err := exec.LookPath("pasta")
	if err != nil {
		return nil, errors.New("RUN's default network (a namespace of its own) needs pasta: install passt (Debian/Ubuntu package passt), or use --network host (the host's network, loopback included) or --network none")
	}
	// pasta opens /dev/net/tun with gantry's ids: rootless, the device must
	// be open to every user, as distributions' udev rules make it.
	tun, err := os.OpenFile("/dev/net/tun", os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("RUN's default network needs /dev/net/tun for pasta: %w: make it readable and writable by users (chmod 0666 /dev/net/tun, as udev does on Debian and Fedora), or use --network host or --network none", err)
	}
	tun.Close()
	n := &ownNetwork{pasta: pasta}
	raw, _ := os.ReadFile("/etc/resolv.conf")
	var rest []string
	for _, l := range strings.Split(string(raw), "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 && f[0] == "nameserver" {
			if ip := net.ParseIP(f[1]); ip != nil && ip.To4() != nil && n.resolver == "" {
				n.resolver = ip.String()
			}
			continue
		}
		rest = append(rest, l)
	}
	if n.resolver == "" {
		// No IPv4 resolver to forward to: the host's file as it is (its
		// IPv6 resolvers reached through pasta, unless they are loopback).
		n.resolvConf = raw
		return n, nil
	}
	n.resolvConf = []byte("nameserver " + netDNS + "\n" + strings.TrimLeft(strings.Join(rest, "\n"), "\n"))
	return n, nil
}

// start runs pasta for the network namespace of the child pid (and, for a
// rootless child, its user namespace), and returns once the namespace is
// configured; stop ends pasta. pasta runs in the foreground as gantry's
// child and dies with gantry.
func (n *ownNetwork) start(ctx context.Context, pid int, rootless bool) (stop func(), err error) {
	// The namespaces are lent as descriptors: pasta drops its capabilities
	// before it opens them, and could not open /proc/PID/ns/* then.
	netns, err := os.Open(fmt.Sprintf("/proc/%d/ns/net", pid))
	if err != nil {
		return nil, fmt.Errorf("the step's network namespace: %w", err)
	}
	defer netns.Close()
	var userns *os.File
	if rootless {
		if userns, err = os.Open(fmt.Sprintf("/proc/%d/ns/user", pid)); err != nil {
			return nil, fmt.Errorf("the step's user namespace: %w", err)
		}
		defer userns.Close()
	}
	return n.startIn(ctx, netns, userns)
}

// startIn runs pasta for the network namespace netns (owned by the user
// namespace userns when not nil: rootless).
func (n *ownNetwork) startIn(ctx context.Context, netns, userns *os.File) (stop func(), err error) {
	// pasta writes its pid file once the namespace is configured: a pipe
	// as pid file says when.
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer readyR.Close()
	files := []*os.File{netns, readyW} // fds 3 and 4
	args := []string{"--config-net", "--foreground", "--quiet",
		// No port is forwarded either way: the host's ports, loopback
		// ones included, are not the step's, nor the step's the host's.
		"-t", "none", "-u", "none", "-T", "none", "-U", "none",
		// The gateway is not the host's loopback in disguise.
		"--no-map-gw",
		"-a", netAddr, "-n", netPrefix, "-g", netGateway,
		"--netns", "/proc/self/fd/3", "--no-netns-quit", "-P", "/proc/self/fd/4"}
	if n.resolver != "" {
		// pasta forwards to the first resolver of the host's resolv.conf
		// (which it reads itself), loopback ones included.
		args = append(args, "--dns-forward", netDNS)
	}
	if userns != nil {
		files = append(files, userns) // fd 5
		args = append(args, "--userns", "/proc/self/fd/5")
	} else {
		// As root, pasta would switch to nobody, who cannot configure the
		// namespace; it drops its capabilities all the same.
		args = append(args, "--runas", "0:0")
	}
	cmd := exec.Command(n.pasta, args...)
	cmd.Env = []string{}
	cmd.ExtraFiles = files
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	err = cmd.Start()
	readyW.Close()
	if err != nil {
		return nil, fmt.Errorf("starting pasta: %w", err)
	}
	// Killed, pasta takes some 20 ms to let go of its buffers: the run
	// does not wait for that.
	stop = func() {
		cmd.Process.Kill()
		go cmd.Wait()
	}
	ready := make(chan error, 1)
	go func() {
		readyR.SetReadDeadline(time.Now().Add(pastaReady))
		line, err := bufio.NewReader(readyR).ReadString('\n')
		switch _, perr := strconv.Atoi(strings.TrimSpace(line)); {
		case errors.Is(err, io.EOF):
			err = errors.New("pasta exited")
		case err == nil && perr != nil:
			err = fmt.Errorf("pasta wrote %q as its pid", line)
		}
		ready <- err
	}()
	select {
	case err = <-ready:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait() // then its stderr is complete
		return nil, fmt.Errorf("setting up RUN's network: %v%s (--network host or --network none do without pasta)", err, pastaSaid(stderr.String()))
	}
	return stop, nil
}

// namespace is the shared network's namespace, made and given its pasta
// by the first step that asks.
func (s *SharedNetwork) namespace(ctx context.Context, own *ownNetwork) (*os.File, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return s.ns, s.err
	}
	if s.closed {
		return nil, errors.New("the build's network is closed")
	}
	s.done = true
	if s.ns, s.err = newNetNamespace(); s.err != nil {
		s.err = fmt.Errorf("the build's network namespace: %w", s.err)
		return nil, s.err
	}
	// ctx bounds the wait for pasta to be ready, not pasta's life: it
	// outlives the step that started it, until Close.
	if s.stop, s.err = own.startIn(ctx, s.ns, nil); s.err != nil {
		s.ns.Close()
		s.ns = nil
	}
	return s.ns, s.err
}

// Prepare makes the namespace and starts its pasta now, in the
// background, so that the first step on the default network finds them
// ready: a build calls it when it knows a RUN step will run, and pasta's
// start overlaps the work before that step. Where the network cannot be
// made, the step says why, as it would without Prepare. Without root each
// step has a network of its own: nothing to prepare.
func (s *SharedNetwork) Prepare(ctx context.Context) {
	if s == nil || userns.Rootless() {
		return
	}
	go func() {
		if own, err := prepareOwnNetwork(); err == nil {
			s.namespace(ctx, own)
		}
	}()
}

// newNetNamespace makes a network namespace held by the descriptor it
// returns: a thread unshares it and opens it, then ends (its goroutine
// keeps the thread locked, so that Go does not reuse it in that namespace).
func newNetNamespace() (*os.File, error) {
	type result struct {
		f   *os.File
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with this goroutine
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			ch <- result{err: err}
			return
		}
		f, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		ch <- result{f, err}
	}()
	r := <-ch
	return r.f, r.err
}

// pastaSaid is pasta's complaint, without its lines about the system
// logger it cannot reach.
func pastaSaid(out string) string {
	var keep []string
	for _, l := range strings.Split(out, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.Contains(l, "to syslog") {
			keep = append(keep, l)
		}
	}
	if len(keep) == 0 {
		return ""
	}
	return ": " + strings.Join(keep, "; ")
}

// netnsFlags are the namespaces a run's child gets for its network.
func netnsFlags(network string) uintptr {
	if network == NetworkHost {
		return 0
	}
	return unix.CLONE_NEWNET
}
