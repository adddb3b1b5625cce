package dockerfile

import (
	"fmt"
	"os"
	"path"

	"github.com/gantry-build/gantry/pkg/sandbox"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
)

// SecretPath is where a memory secret is found by path: through this
// process's /proc entry, so that the sandbox child (another process) can
// bind it.
func SecretPath(f *os.File) string { return fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), f.Fd()) }

// secretMount is RUN --mount=type=secret as BuildKit reads it: the id is
// source=, else id=, else the target's base name; env= exposes the value as
// an environment variable (named after the id when env= is empty), and then
// no file is mounted unless a target is given; the file is 0400 root's
// unless uid=, gid=, mode= say otherwise.
func (s *stageState) secretMount(ms *stepMounts, m *instructions.Mount, target string) (keyPart string, err error) {
	id := m.CacheID
	if m.Source != "" {
		id = m.Source
	}
	if id == "" {
		if m.Target == "" {
			return "", fmt.Errorf("secret mount: one of source, target required")
		}
		id = path.Base(m.Target)
	}
	src, ok := s.b.o.Secrets[id]
	if !ok {
		if m.Required {
			return "", fmt.Errorf("secret %q is required: give --secret id=%s,src=FILE or id=%s,env=VAR", id, id, id)
		}
		return "", nil
	}
	data, err := os.ReadFile(src)
	if err != nil {
		return "", fmt.Errorf("secret %s: %w", id, err)
	}
	key := "secret " + id
	if m.Env != nil {
		name := *m.Env
		if name == "" {
			name = id
		}
		ms.env = append(ms.env, name+"="+string(data))
		key += " env " + name
	}
	if m.Env == nil || m.Target != "" {
		if m.Target == "" {
			target = "/run/secrets/" + path.Base(id)
		}
		uid, gid, mode := 0, 0, os.FileMode(0o400)
		if m.UID != nil {
			uid = int(*m.UID)
		}
		if m.GID != nil {
			gid = int(*m.GID)
		}
		if m.Mode != nil {
			mode = os.FileMode(*m.Mode) & os.ModePerm
		}
		ms.mounts = append(ms.mounts, sandbox.Mount{Type: "file", Target: target, Data: data, Mode: uint32(mode), UID: uid, GID: gid})
		key += " file " + target
	}
	return key, nil
}
