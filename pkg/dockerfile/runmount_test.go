package dockerfile

import (
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

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
