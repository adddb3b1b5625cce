package dockerfile

import (
	"os"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/gantry-build/gantry/internal/testenv"
	"github.com/gantry-build/gantry/pkg/config"
)

// RUN --mount=type=tmpfs,size=… gives the sandbox the size in bytes (as
// BuildKit's units.RAMInBytes reads it), and the size is part of the step's
// cache key; without it the tmpfs has the kernel's default.
func TestTmpfsMountSize(t *testing.T) {
	s := &stageState{b: &dfBuild{}, conf: config.Stage{File: &v1.ConfigFile{}}, env: map[string]string{}}
	keys := map[string]bool{}
	for text, size := range map[string]int64{
		"RUN --mount=type=tmpfs,target=/t,size=128m true": 128 << 20,
		"RUN --mount=type=tmpfs,target=/t,size=1k true":   1024,
		"RUN --mount=type=tmpfs,target=/t true":           0,
	} {
		in := parseRun(t, text)
		if err := in.Expand(s.expand); err != nil {
			t.Fatal(err)
		}
		ms, err := s.runMounts(in)
		ms.cleanup()
		if err != nil {
			t.Fatal(err)
		}
		if len(ms.mounts) != 1 || ms.mounts[0].Type != "tmpfs" || ms.mounts[0].Size != size {
			t.Errorf("%s: mounts %+v, want a tmpfs of %d bytes", text, ms.mounts, size)
		}
		keys[ms.key] = true
	}
	if len(keys) != 3 {
		t.Errorf("tmpfs sizes share a cache key: %v", keys)
	}
}

// The build arg BUILDKIT_SANDBOX_HOSTNAME is RUN steps' hostname, as
// BuildKit's dockerui reads it: the sandbox's UTS name, a 127.0.0.1 line of
// the steps' /etc/hosts (after the host's, with the --add-host names),
// and part of the steps' cache key. Without it, the host's /etc/hosts is
// lent as it is.
func TestSandboxHostnameArg(t *testing.T) {
	st := testenv.Store(t)
	b := &dfBuild{st: st, o: DockerfileOptions{BuildArgs: map[string]string{"BUILDKIT_SANDBOX_HOSTNAME": "foo"}, AddHosts: []string{"extra:10.0.0.1"}}}
	if got := b.sandboxHostname(); got != "foo" {
		t.Errorf("hostname %q, want foo", got)
	}
	p, err := b.hostsFile()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), "127.0.0.1\tfoo\n") || !strings.Contains(string(raw), "10.0.0.1\textra\n") {
		t.Errorf("hosts file:\n%s\nwant lines for foo and extra", raw)
	}
	plain := &dfBuild{st: st}
	if p, err := plain.hostsFile(); err != nil || p != "" || plain.sandboxHostname() != "" {
		t.Errorf("without the arg: hosts file %q, %v, hostname %q; want the host's", p, err, plain.sandboxHostname())
	}
	if b.runKey() == plain.runKey() {
		t.Errorf("the hostname is not in the cache key: %q", b.runKey())
	}
}
