package dockerfile

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"golang.org/x/sys/unix"

	"github.com/gantry-build/gantry/pkg/config"
	"github.com/gantry-build/gantry/pkg/layer"
	"github.com/gantry-build/gantry/pkg/platform"
	"github.com/gantry-build/gantry/pkg/registry"
	"github.com/gantry-build/gantry/pkg/rootfs"
	"github.com/gantry-build/gantry/pkg/sandbox"
	"github.com/gantry-build/gantry/pkg/store"
)

// runCommand runs RUN in the sandbox over the stage's unpacked root
// filesystem; the overlay's upper directory becomes the new layer.
func (s *stageState) runCommand(label string, in *instructions.RunCommand) error {
	b := s.b
	for _, f := range in.FlagsUsed {
		if f != "network" && f != "mount" {
			return fmt.Errorf("RUN --%s is not supported yet", f)
		}
	}
	// Expanding a RUN only parses its --mount flags ($VARS in them included);
	// the command itself is the shell's to expand.
	if err := in.Expand(s.expand); err != nil {
		return err
	}
	args := s.commandLine(in.ShellDependantCmdLine)
	if len(in.Files) > 0 { // a heredoc: the body is the script
		args = s.commandLine(instructions.ShellDependantCmdLine{CmdLine: []string{in.Files[0].Data}, PrependShell: true})
	}
	network := instructions.GetNetwork(in)
	if network == instructions.NetworkDefault && b.o.Network != "" {
		network = b.o.Network
	}
	if network != instructions.NetworkDefault && network != instructions.NetworkHost && network != instructions.NetworkNone {
		return fmt.Errorf("RUN --network=%s: use default, host or none", network)
	}
	ms, err := s.runMounts(in)
	defer ms.cleanup()
	if err != nil {
		return err
	}
	return s.cachedLayer(label, fixedKey(s.stepKey(in, "network="+network+hostsKey(b.o.AddHosts), ms.key)), "RUN "+strings.Join(args, " "), func() (layer.Built, error) {
		// Checked only when the step runs: a cached step needs no emulator.
		emulator, err := sandbox.CanExec(b.platform)
		if err != nil {
			return layer.Built{}, err
		}
		lower, err := s.rootDir()
		if err != nil {
			return layer.Built{}, err
		}
		upper, err := os.MkdirTemp(filepath.Join(b.st.Root(), "tmp"), "run-*")
		if err != nil {
			return layer.Built{}, err
		}
		defer os.RemoveAll(upper)
		if err := os.Chmod(upper, 0o755); err != nil { // the overlay's root takes the upper dir's mode
			return layer.Built{}, err
		}
		uid, gid := 0, 0
		if u := s.cf.Config.User; u != "" {
			if uid, gid, err = rootfs.LookupUser(lower, u, false); err != nil {
				return layer.Built{}, err
			}
		}
		env := append(s.runEnv(lower, uid), ms.env...)
		tail := &lastLines{max: 10}
		out := io.MultiWriter(&prefixWriter{w: b.o.Output, prefix: fmt.Sprintf("#%d ", b.step)}, tail)
		if emulator != "" {
			fmt.Fprintf(b.o.Output, "#%d %s runs under emulation (%s): slower than native\n", b.step, platform.String(b.platform), emulator)
		}
		hosts, err := b.hostsFile()
		if err != nil {
			return layer.Built{}, err
		}
		spec := sandbox.Spec{Lower: lower, Upper: upper, Args: args, Env: env, Dir: s.cf.Config.WorkingDir, UID: uid, GID: gid, Network: network, Mounts: ms.mounts, HostsFile: hosts}
		res, err := sandbox.Run(b.ctx, spec, out, out)
		if err != nil {
			var ee *sandbox.ExitError
			if errors.As(err, &ee) {
				return layer.Built{}, fmt.Errorf("%q failed with exit code %d; last output:\n%s", strings.Join(args, " "), ee.Code, tail)
			}
			return layer.Built{}, err
		}
		return layer.FromWriter(b.ctx, b.st, b.o.Compression, s.oci(), func(w io.Writer) error {
			return rootfs.WriteChanges(w, lower, upper, rootfs.ChangeOptions{Overlay: res.Overlay, RootOwned: os.Geteuid() != 0})
		})
	})
}

// stepMounts are a RUN step's --mount flags made ready: the sandbox
// mounts, the environment they add, what the step's cache key must include,
// and what to undo when the step is done (copies, cache-mount locks).
type stepMounts struct {
	mounts  []sandbox.Mount
	env     []string
	key     string
	temps   []string
	unlocks []func()
}

func (ms *stepMounts) cleanup() {
	for _, t := range ms.temps {
		os.RemoveAll(t)
	}
	for _, u := range ms.unlocks {
		u()
	}
}

// runMounts turns RUN --mount flags into sandbox mounts. The cache key part
// holds the content of bound context or stage files and the ids of caches,
// secrets and agents (never the secrets themselves). Call cleanup whatever
// happened.
func (s *stageState) runMounts(in *instructions.RunCommand) (*stepMounts, error) {
	b := s.b
	ms := &stepMounts{}
	var key []string
	agents := 0
	for _, m := range instructions.GetMounts(in) {
		target := m.Target
		if !filepath.IsAbs(target) {
			target = filepath.Join("/", s.cf.Config.WorkingDir, target)
		}
		switch m.Type {
		case instructions.MountTypeBind:
			root := b.o.Context
			if m.From != "" {
				var err error
				if root, err = s.fromRoot(m.From); err != nil {
					return ms, err
				}
			}
			// The context is what its .dockerignore leaves, in a bind too.
			lo := layer.Options{ContextRoot: root}
			ignore, err := b.ignoreOf(m.From)
			if err != nil {
				return ms, err
			}
			lo.Ignore = ignore
			src, err := glob(root, m.Source, lo)
			if err != nil {
				return ms, fmt.Errorf("--mount type=bind: %w", err)
			}
			entries, err := layer.Collect([]layer.Add{{Src: src[0], Dest: "/m/"}}, lo)
			if err != nil {
				return ms, err
			}
			fp, err := layer.Fingerprint(b.st, entries, layer.Options{})
			if err != nil {
				return ms, err
			}
			source := src[0]
			if fi, err := os.Stat(source); err == nil && fi.IsDir() && lo.Ignore != nil {
				// Ignored files must not show: the step gets the rest, hard
				// linked where it can (read-only) or copied (read-write).
				tmp, err := os.MkdirTemp(filepath.Join(b.st.Root(), "tmp"), "bind-*")
				if err != nil {
					return ms, err
				}
				ms.temps = append(ms.temps, tmp)
				if source, err = materialize(entries, "m", filepath.Join(tmp, "src"), !m.ReadOnly); err != nil {
					return ms, fmt.Errorf("--mount type=bind: %w", err)
				}
			} else if !m.ReadOnly {
				// Writes to a rw bind are the run's alone, as in BuildKit:
				// it gets a copy.
				tmp, err := os.MkdirTemp(filepath.Join(b.st.Root(), "tmp"), "bind-*")
				if err != nil {
					return ms, err
				}
				ms.temps = append(ms.temps, tmp)
				if out, err := exec.Command("cp", "-a", source, filepath.Join(tmp, "src")).CombinedOutput(); err != nil {
					return ms, fmt.Errorf("--mount type=bind,rw: %v %s", err, out)
				}
				source = filepath.Join(tmp, "src")
			}
			ms.mounts = append(ms.mounts, sandbox.Mount{Type: "bind", Source: source, Target: target, ReadOnly: m.ReadOnly})
			key = append(key, "bind "+target+" "+fp)
		case instructions.MountTypeCache:
			id := m.CacheID
			if id == "" {
				id = target
			}
			sum := sha256.Sum256([]byte(id))
			dir, unlock, err := cacheMountDir(filepath.Join(b.st.Root(), "cache", "run-mounts", hex.EncodeToString(sum[:])), m.CacheSharing)
			if err != nil {
				return ms, err
			}
			ms.unlocks = append(ms.unlocks, unlock)
			if _, err := os.Stat(dir); err != nil {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					return ms, err
				}
				if m.Mode != nil {
					os.Chmod(dir, os.FileMode(*m.Mode))
				}
				if m.UID != nil || m.GID != nil {
					uid, gid := 0, 0
					if m.UID != nil {
						uid = int(*m.UID)
					}
					if m.GID != nil {
						gid = int(*m.GID)
					}
					os.Chown(dir, uid, gid)
				}
			}
			ms.mounts = append(ms.mounts, sandbox.Mount{Type: "bind", Source: dir, Target: target, ReadOnly: m.ReadOnly})
			key = append(key, "cache "+target)
		case instructions.MountTypeTmpfs:
			ms.mounts = append(ms.mounts, sandbox.Mount{Type: "tmpfs", Target: target})
			key = append(key, "tmpfs "+target)
		case instructions.MountTypeSecret:
			id := m.CacheID
			if id == "" {
				id = filepath.Base(m.Target)
			}
			src, ok := b.o.Secrets[id]
			if !ok {
				if m.Required {
					return ms, fmt.Errorf("secret %q is required: give --secret id=%s,src=FILE", id, id)
				}
				continue
			}
			if m.Target == "" {
				target = "/run/secrets/" + id
			}
			ms.mounts = append(ms.mounts, sandbox.Mount{Type: "bind", Source: src, Target: target, ReadOnly: true})
			key = append(key, "secret "+id+" "+target)
		case instructions.MountTypeSSH:
			// The agent's socket, as BuildKit forwards it: at
			// /run/buildkit/ssh_agent.N unless a target is given, with
			// SSH_AUTH_SOCK pointing at the first. Keys never leave the agent.
			// An optional agent that was not given is not mounted, but
			// SSH_AUTH_SOCK names it all the same, as in BuildKit.
			id := m.CacheID
			if id == "" {
				id = "default"
			}
			if m.Target == "" {
				target = fmt.Sprintf("/run/buildkit/ssh_agent.%d", agents)
			}
			if agents == 0 {
				ms.env = append(ms.env, "SSH_AUTH_SOCK="+target)
			}
			agents++
			sock, ok := b.o.SSH[id]
			if !ok {
				if m.Required {
					return ms, fmt.Errorf("ssh agent %q is required: give --ssh %s[=SOCKET]", id, id)
				}
				continue
			}
			ms.mounts = append(ms.mounts, sandbox.Mount{Type: "bind", Source: sock, Target: target})
			key = append(key, "ssh "+id+" "+target)
		default:
			return ms, fmt.Errorf("RUN --mount=type=%s is not supported yet", m.Type)
		}
	}
	ms.key = strings.Join(key, "\n")
	return ms, nil
}

// hostsKey is what --add-host adds to a RUN step's cache key.
func hostsKey(hosts []string) string {
	if len(hosts) == 0 {
		return ""
	}
	return " hosts=" + strings.Join(hosts, ",")
}

// hostsFile is the /etc/hosts of RUN steps with --add-host: the host's,
// then the added names ("" without any: the host's own file is lent).
func (b *dfBuild) hostsFile() (string, error) {
	if len(b.o.AddHosts) == 0 {
		return "", nil
	}
	if b.hosts != "" {
		return b.hosts, nil
	}
	content, _ := os.ReadFile("/etc/hosts")
	if len(content) > 0 && content[len(content)-1] != '\n' {
		content = append(content, '\n')
	}
	for _, h := range b.o.AddHosts {
		name, ip, ok := strings.Cut(h, "=")
		if !ok {
			name, ip, ok = strings.Cut(h, ":")
		}
		if !ok || name == "" || net.ParseIP(ip) == nil {
			return "", fmt.Errorf("invalid --add-host %q: use NAME:IP", h)
		}
		content = append(content, fmt.Sprintf("%s\t%s\n", ip, name)...)
	}
	f, err := os.CreateTemp(filepath.Join(b.st.Root(), "tmp"), "hosts-*")
	if err != nil {
		return "", err
	}
	defer f.Close()
	if _, err := f.Write(content); err != nil {
		return "", err
	}
	b.hosts = f.Name()
	return b.hosts, nil
}

// cacheMountDir picks the folder of a RUN cache mount and locks it for the
// step, as BuildKit shares it: "shared" (the default) with any other build
// at the same time, "locked" with one at a time (others wait), "private" by
// taking the first instance no other build holds.
func cacheMountDir(base string, sharing instructions.ShareMode) (string, func(), error) {
	if err := os.MkdirAll(filepath.Dir(base), 0o755); err != nil {
		return "", nil, err
	}
	lock := func(dir string, how int) (func(), error) {
		f, err := os.OpenFile(dir+".lock", os.O_CREATE|os.O_RDWR, 0o644)
		if err != nil {
			return nil, err
		}
		if err := unix.Flock(int(f.Fd()), how); err != nil {
			f.Close()
			return nil, err
		}
		return func() { f.Close() }, nil // closing releases the lock
	}
	switch sharing {
	case instructions.MountSharingLocked:
		unlock, err := lock(base, unix.LOCK_EX)
		return base, unlock, err
	case instructions.MountSharingPrivate:
		for i := 0; ; i++ {
			dir := base
			if i > 0 {
				dir = fmt.Sprintf("%s-%d", base, i)
			}
			unlock, err := lock(dir, unix.LOCK_EX|unix.LOCK_NB)
			if err == nil {
				return dir, unlock, nil
			}
			if !errors.Is(err, unix.EWOULDBLOCK) {
				return "", nil, err
			}
		}
	}
	unlock, err := lock(base, unix.LOCK_SH)
	return base, unlock, err
}

// materialize makes the tree of entries (named below prefix) at dir: the
// folders, the links, and each file hard linked to its source, or copied
// when the tree may be written to (or sits on another filesystem).
func materialize(entries []layer.Entry, prefix, dir string, writable bool) (string, error) {
	for _, e := range entries {
		rel, ok := strings.CutPrefix(e.Name, prefix)
		if !ok {
			continue
		}
		p := filepath.Join(dir, filepath.FromSlash(rel))
		var err error
		switch {
		case e.Mode.IsDir():
			err = os.MkdirAll(p, e.Mode.Perm()|0o700)
		case e.Mode&fs.ModeSymlink != 0:
			err = os.Symlink(e.Link, p)
		case e.HardLink:
			err = os.Link(filepath.Join(dir, filepath.FromSlash(strings.TrimPrefix(e.Link, prefix))), p)
		case e.Mode.IsRegular():
			if writable || os.Link(e.Source, p) != nil {
				err = copyFile(e.Source, p, e.Mode.Perm())
			}
		}
		if err != nil {
			return "", err
		}
	}
	return dir, nil
}

func copyFile(src, dst string, perm fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// runEnv is RUN's environment: the build args and ENV in scope, a PATH if
// the image has none, and HOME from the user's /etc/passwd entry (else /),
// as the container runtime sets it.
func (s *stageState) runEnv(root string, uid int) []string {
	vars := s.vars()
	if _, ok := vars["PATH"]; !ok {
		vars["PATH"] = config.DefaultPath
	}
	if _, ok := vars["HOME"]; !ok {
		vars["HOME"] = rootfs.HomeDir(root, uid)
	}
	env := make([]string, 0, len(vars))
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	return env
}

// prefixWriter prefixes each line of RUN output with its step, as docker
// build's plain progress does.
type prefixWriter struct {
	mu     sync.Mutex
	w      io.Writer
	prefix string
	mid    bool
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var buf bytes.Buffer
	for _, c := range b {
		if !p.mid {
			buf.WriteString(p.prefix)
			p.mid = true
		}
		buf.WriteByte(c)
		if c == '\n' {
			p.mid = false
		}
	}
	if _, err := p.w.Write(buf.Bytes()); err != nil {
		return 0, err
	}
	return len(b), nil
}

// lastLines keeps the end of a command's output for its error message.
type lastLines struct {
	mu    sync.Mutex
	max   int
	lines []string
	cur   []byte
}

func (l *lastLines) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range b {
		if c == '\n' {
			l.lines = append(l.lines, string(l.cur))
			l.cur = l.cur[:0]
			if len(l.lines) > l.max {
				l.lines = l.lines[1:]
			}
			continue
		}
		l.cur = append(l.cur, c)
	}
	return len(b), nil
}

func (l *lastLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	lines := l.lines
	if len(l.cur) > 0 {
		lines = append(lines, string(l.cur))
	}
	return "  " + strings.Join(lines, "\n  ")
}

// lookupStep finds the image an identical step made before.
func (b *dfBuild) lookupStep(key string) (v1.Image, bool) {
	raw, err := os.ReadFile(filepath.Join(b.st.Root(), "cache", "steps", key))
	if err != nil {
		return nil, false
	}
	h, err := v1.NewHash(strings.TrimSpace(string(raw)))
	if err != nil {
		return nil, false
	}
	img, err := b.st.Image(h)
	if err != nil {
		return nil, false
	}
	m, err := img.Manifest()
	if err != nil || !b.st.HasBlob(m.Config.Digest) {
		return nil, false
	}
	for _, l := range m.Layers {
		if !b.st.HasBlob(l.Digest) {
			return nil, false // pruned since
		}
	}
	return img, true
}

// remoteStep fetches a step result from the --cache-from repository.
func (b *dfBuild) remoteStep(key string) (v1.Image, bool) {
	if b.o.CacheFrom == "" {
		return nil, false
	}
	ref, err := b.rc.ParseReference(b.o.CacheFrom + ":" + key)
	if err != nil {
		return nil, false
	}
	desc, err := b.rc.Get(b.ctx, ref)
	if err != nil || !desc.MediaType.IsImage() {
		return nil, false // a miss, or an unreachable cache: build instead
	}
	img, err := desc.Image()
	if err != nil {
		return nil, false
	}
	stored, err := b.st.WriteImage(b.ctx, img, store.WriteOptions{Jobs: b.rc.Jobs(), Progress: b.o.Progress})
	if err != nil {
		return nil, false
	}
	if err := b.rememberStep(key, stored.Digest); err != nil {
		return nil, false
	}
	img, err = b.st.Image(stored.Digest)
	return img, err == nil
}

// saveStep stores the step's image, remembers it under key and, with
// --cache-to, pushes it there tagged by the key.
func (b *dfBuild) saveStep(key string, img v1.Image) error {
	desc, err := b.st.WriteImage(b.ctx, img, store.WriteOptions{})
	if err != nil {
		return err
	}
	if b.o.CacheTo != "" {
		ref, err := b.rc.ParseReference(b.o.CacheTo + ":" + key)
		if err != nil {
			return fmt.Errorf("--cache-to: %w", err)
		}
		if err := remote.Write(ref, img, b.rc.RemoteOptions(b.ctx)...); err != nil {
			return fmt.Errorf("--cache-to: %w", registry.Explain(err, ref))
		}
	}
	return b.rememberStep(key, desc.Digest)
}

func (b *dfBuild) rememberStep(key string, h v1.Hash) error {
	dir := filepath.Join(b.st.Root(), "cache", "steps")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, key), []byte(h.String()), 0o644)
}
