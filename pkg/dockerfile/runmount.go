package dockerfile

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/gantry-build/gantry/pkg/layer"
	"github.com/gantry-build/gantry/pkg/rootfs"
	"github.com/gantry-build/gantry/pkg/sandbox"
	"github.com/gantry-build/gantry/pkg/store"
)

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
			target = filepath.Join("/", s.workdir(), target)
		}
		switch m.Type {
		case instructions.MountTypeBind:
			root := b.o.Context
			if m.From != "" {
				var err error
				if root, err = s.fromRoot(m.From, m.Target); err != nil {
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
			// The source is found as COPY finds it: every symlink resolved
			// inside its root (context, stage, named context).
			src, err := sources(root, m.Source, lo)
			if err == nil && len(src) != 1 {
				err = fmt.Errorf("%s: not found", m.Source)
			}
			if err != nil {
				return ms, fmt.Errorf("--mount type=bind: %w", err)
			}
			entries, err := layer.Collect([]layer.Add{{Src: src[0].path, Dest: "/m/"}}, lo)
			if err != nil {
				return ms, err
			}
			fp, err := layer.Fingerprint(b.st, entries, layer.Options{})
			if err != nil {
				return ms, err
			}
			source := src[0].path
			if fi, err := os.Stat(source); err == nil && fi.IsDir() && lo.Ignore != nil {
				// Ignored files must not show: the step gets the rest, hard
				// linked where it can (read-only) or copied (read-write).
				tmp, err := os.MkdirTemp(b.st.TempDir(), "bind-*")
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
				tmp, err := os.MkdirTemp(b.st.TempDir(), "bind-*")
				if err != nil {
					return ms, err
				}
				ms.temps = append(ms.temps, tmp)
				if err := rootfs.CopyTree(source, filepath.Join(tmp, "src")); err != nil {
					return ms, fmt.Errorf("--mount type=bind,rw: %w", err)
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
			dir, unlock, err := cacheMountDir(filepath.Join(b.st.CacheDir(store.CacheRunMounts), hex.EncodeToString(sum[:])), m.CacheSharing)
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
			ms.mounts = append(ms.mounts, sandbox.Mount{Type: "tmpfs", Target: target, Size: m.SizeLimit})
			k := "tmpfs " + target
			if m.SizeLimit > 0 {
				k += fmt.Sprintf(" size=%d", m.SizeLimit)
			}
			key = append(key, k)
		case instructions.MountTypeSecret:
			k, err := s.secretMount(ms, m, target)
			if err != nil {
				return ms, err
			}
			if k != "" {
				key = append(key, k)
			}
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

// runKey is what the build's --add-host names and sandbox hostname add to
// a RUN step's cache key.
func (b *dfBuild) runKey() string {
	key := ""
	if len(b.o.AddHosts) > 0 {
		key = " hosts=" + strings.Join(b.o.AddHosts, ",")
	}
	if h := b.sandboxHostname(); h != "" {
		key += " hostname=" + h
	}
	return key
}

// sandboxHostname is RUN steps' hostname from the build arg
// BUILDKIT_SANDBOX_HOSTNAME, as BuildKit's dockerui reads it ("" is the
// sandbox's own).
func (b *dfBuild) sandboxHostname() string { return b.o.BuildArgs["BUILDKIT_SANDBOX_HOSTNAME"] }

// hostsFile is the /etc/hosts of RUN steps with --add-host or a sandbox
// hostname: the host's, then the added names and the hostname, as
// BuildKit's hosts file names it ("" without any: the host's own file is
// lent).
func (b *dfBuild) hostsFile() (string, error) {
	hostname := b.sandboxHostname()
	if len(b.o.AddHosts) == 0 && hostname == "" {
		return "", nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.hosts != "" {
		return b.hosts, nil
	}
	content, _ := os.ReadFile("/etc/hosts")
	if len(content) > 0 && content[len(content)-1] != '\n' {
		content = append(content, '\n')
	}
	if hostname != "" {
		content = append(content, fmt.Sprintf("127.0.0.1\t%s\n", hostname)...)
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
	f, err := os.CreateTemp(b.st.TempDir(), "hosts-*")
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
