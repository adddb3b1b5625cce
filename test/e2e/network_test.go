package e2e

import (
	"archive/tar"
	"io"
	"net"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

// greeter is an HTTP server of the host's that says hello to whoever
// asks, and counts them. (HTTP, as apt and curl speak it: Debian 12's
// pasta stalls a connection whose client shuts its side first, as
// `nc </dev/null` does.)
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
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.count.Add(1)
		w.Write([]byte("hello from the host\n"))
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return g
}

func (g *greeter) host() string { return g.ln.Addr().(*net.TCPAddr).IP.String() }
func (g *greeter) port() string { return strconv.Itoa(g.ln.Addr().(*net.TCPAddr).Port) }

// hostIPv4 is an address of the host's that is not loopback.
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

// usableTun makes /dev/net/tun readable and writable by every user, as
// the udev rules of distributions do (a machine without udev has it 0600):
// rootless pasta opens it to give RUN its network. Restored after the test.
func usableTun(t *testing.T) {
	t.Helper()
	fi, err := os.Stat("/dev/net/tun")
	if err != nil {
		t.Fatalf("/dev/net/tun: %v (RUN's default network needs it)", err)
	}
	if mode := fi.Mode().Perm(); mode&0o666 != 0o666 {
		if err := os.Chmod("/dev/net/tun", 0o666); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod("/dev/net/tun", mode) })
	}
}

// netDockerfile probes the host's listeners from RUN steps: the default
// network, and RUN --network=host.
const netDockerfile = `ARG BASE
FROM $BASE
ARG LO_PORT
ARG ETH_IP
ARG ETH_PORT
RUN (/bin/busybox wget -q -O- http://127.0.0.1:$LO_PORT/ || echo refused) > /lo.txt; (/bin/busybox wget -q -O- http://$ETH_IP:$ETH_PORT/ || echo refused) > /eth.txt; /bin/busybox cat /etc/resolv.conf > /resolv.txt; /bin/busybox awk -F: 'NR>2 {print $1}' /proc/net/dev > /ifaces.txt
RUN --network=host (/bin/busybox wget -q -O- http://127.0.0.1:$LO_PORT/ || echo refused) > /host-lo.txt
`

// RUN gets a network of its own by default, through pasta, as rootless
// Podman and BuildKit give it: a service of the host's on 127.0.0.1 is out
// of its reach, the host's other addresses and the outside are not, and
// its resolv.conf names pasta's DNS forwarder. RUN --network=host and
// build --network host are the host's network, loopback included.
func TestBuildNetworkDefault(t *testing.T) {
	e := newEnv(t)
	lo, eth := greet(t, "127.0.0.1:0"), greet(t, hostIPv4(t)+":0")
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(netDockerfile), 0o644)
	args := []string{"--build-arg", "BASE=" + baseRef("amd64"), "--build-arg", "LO_PORT=" + lo.port(), "--build-arg", "ETH_IP=" + eth.host(), "--build-arg", "ETH_PORT=" + eth.port()}
	e.gantry(append([]string{"build", dir, "-t", "example.com/net/default:1"}, args...)...)
	files := exportFiles(t, e, "example.com/net/default:1", "lo.txt", "eth.txt", "resolv.txt", "ifaces.txt", "host-lo.txt")
	checkOwnNetwork(t, files, lo)
	if files["host-lo.txt"] != "hello from the host\n" {
		t.Errorf("RUN --network=host did not reach the host's 127.0.0.1: %q", files["host-lo.txt"])
	}
	if n := lo.count.Load(); n != 1 {
		t.Errorf("the loopback listener saw %d connections, want 1 (RUN --network=host's)", n)
	}

	// build --network host: every step's network is the host's.
	e.gantry(append([]string{"build", dir, "--network", "host", "-t", "example.com/net/host:1"}, args...)...)
	files = exportFiles(t, e, "example.com/net/host:1", "lo.txt", "resolv.txt")
	if files["lo.txt"] != "hello from the host\n" || strings.Contains(files["resolv.txt"], "10.0.2.3") {
		t.Errorf("build --network host: 127.0.0.1 gave %q, resolv.conf %q", files["lo.txt"], files["resolv.txt"])
	}

	// gantry run: the same default as RUN.
	out := e.gantry("run", "--rm", baseRef("amd64"), "/bin/sh", "-c", "/bin/busybox wget -q -O- http://127.0.0.1:"+lo.port()+"/ 2>/dev/null || echo refused; /bin/busybox wget -q -O- http://"+eth.host()+":"+eth.port()+"/")
	if out != "refused\nhello from the host\n" {
		t.Errorf("gantry run, default network: %q", out)
	}
	if out := e.gantry("run", "--rm", "--network", "host", baseRef("amd64"), "/bin/busybox", "wget", "-q", "-O-", "http://127.0.0.1:"+lo.port()+"/"); out != "hello from the host\n" {
		t.Errorf("gantry run --network host: %q", out)
	}
}

// Rootless, with and without subordinate ids, pasta joins the sandbox's
// user namespace too: the same network of its own.
func TestRootlessBuildNetworkDefault(t *testing.T) {
	lo, eth := greet(t, "127.0.0.1:0"), greet(t, hostIPv4(t)+":0")
	for _, u := range []struct {
		name   string
		subids bool
	}{{"gantry-e2e", false}, {"gantry-e2e-sub", true}} {
		t.Run(u.name, func(t *testing.T) {
			r := rootlessUser(t, u.name, u.subids)
			dir := filepath.Join(r.home, "ctx", "net")
			os.MkdirAll(dir, 0o755)
			os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(netDockerfile), 0o644)
			sh(t, "chown", "-R", r.uid+":"+r.gid, dir)
			r.env.gantry("build", dir, "-t", "example.com/net/rootless:1", "--build-arg", "BASE="+baseRef("amd64"), "--build-arg", "LO_PORT="+lo.port(),
				"--build-arg", "ETH_IP="+eth.host(), "--build-arg", "ETH_PORT="+eth.port())
			checkOwnNetwork(t, exportFiles(t, r.env, "example.com/net/rootless:1", "lo.txt", "eth.txt", "resolv.txt", "ifaces.txt"), nil)
		})
	}
}

// checkOwnNetwork checks what the default-network step saw; lo, when given,
// must have seen none of its connections.
func checkOwnNetwork(t *testing.T, files map[string]string, lo *greeter) {
	t.Helper()
	if files["lo.txt"] != "refused\n" {
		t.Errorf("the step reached the host's 127.0.0.1: %q", files["lo.txt"])
	}
	if files["eth.txt"] != "hello from the host\n" {
		t.Errorf("the step did not reach the host's non-loopback address through pasta: %q", files["eth.txt"])
	}
	if !strings.Contains(files["resolv.txt"], "nameserver 10.0.2.3\n") || strings.Count(files["resolv.txt"], "nameserver") != 1 {
		t.Errorf("the step's resolv.conf does not name pasta's DNS forwarder alone:\n%s", files["resolv.txt"])
	}
	if ifs := strings.Fields(files["ifaces.txt"]); len(ifs) != 2 {
		t.Errorf("the step's interfaces: %q, want lo and pasta's", ifs)
	}
	if lo != nil && lo.count.Load() > 1 {
		t.Errorf("the loopback listener saw %d connections", lo.count.Load())
	}
}

// exportFiles reads files of the image's root, exported to stdout.
func exportFiles(t *testing.T, e *env, ref string, names ...string) map[string]string {
	t.Helper()
	tr := tar.NewReader(strings.NewReader(e.gantry("export", ref)))
	all := map[string]string{}
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		b, _ := io.ReadAll(tr)
		all[strings.TrimPrefix(path.Clean(h.Name), "/")] = string(b)
	}
	out := map[string]string{}
	for _, n := range names {
		b, ok := all[n]
		if !ok {
			t.Errorf("%s is not in %s", n, ref)
		}
		out[n] = b
	}
	return out
}
