//go:build linux

package sandbox

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/gantry-build/gantry/pkg/platform"
)

// Handlers as the kernel lists them once qemu-user-static's binfmt.d files
// are registered (magic and mask copied from Debian 12's).
const (
	aarch64Handler = "enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: POF\noffset 0\n" +
		"magic 7f454c460201010000000000000000000200b700\nmask ffffffffffffff00fffffffffffffffffeffffff\n"
	armHandler = "enabled\ninterpreter /usr/libexec/qemu-binfmt/arm-binfmt-P\nflags: POF\noffset 0\n" +
		"magic 7f454c4601010100000000000000000002002800\nmask ffffffffffffff00fffffffffffffffffeffffff\n"
)

func fakeBinfmt(t *testing.T, files map[string]string) {
	t.Helper()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "register"), nil, 0o200)
	os.WriteFile(filepath.Join(dir, "status"), []byte("enabled\n"), 0o644)
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	saved := binfmtDir
	binfmtDir = dir
	t.Cleanup(func() { binfmtDir = saved })
}

func TestCanExec(t *testing.T) {
	host := platform.Host()
	if how, err := CanExec(host); err != nil || how != "" {
		t.Errorf("the host's own platform: %q, %v", how, err)
	}
	cases := []struct {
		p       v1.Platform
		handler string
		body    string
	}{
		{v1.Platform{OS: "linux", Architecture: "arm64"}, "qemu-aarch64", aarch64Handler},
		{v1.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}, "qemu-arm", armHandler},
	}
	for _, c := range cases {
		if c.p.Architecture == host.Architecture {
			continue // native here
		}
		name := platform.String(c.p)
		fakeBinfmt(t, nil)
		if _, err := CanExec(c.p); err == nil || !strings.Contains(err.Error(), "no emulator is registered") || !strings.Contains(err.Error(), "cannot RUN for "+name) {
			t.Errorf("%s, no handler: %v", name, err)
		}
		fakeBinfmt(t, map[string]string{c.handler: c.body})
		if how, err := CanExec(c.p); err != nil || how != c.handler {
			t.Errorf("%s with %s registered: %q, %v", name, c.handler, how, err)
		}
		if _, err := CanExec(v1.Platform{OS: "linux", Architecture: "s390x"}); err == nil {
			t.Errorf("s390x matched %s", c.handler)
		}
		fakeBinfmt(t, map[string]string{c.handler: strings.Replace(c.body, "flags: POF", "flags: P", 1)})
		if _, err := CanExec(c.p); err == nil || !strings.Contains(err.Error(), "without the F (fix binary) flag") {
			t.Errorf("%s, a handler without F: %v", name, err)
		}
		fakeBinfmt(t, map[string]string{c.handler: strings.Replace(c.body, "enabled", "disabled", 1)})
		if _, err := CanExec(c.p); err == nil || !strings.Contains(err.Error(), "no emulator") {
			t.Errorf("%s, a disabled handler: %v", name, err)
		}
	}
}
