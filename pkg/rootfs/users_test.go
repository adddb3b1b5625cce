package rootfs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The image's /etc/passwd is read inside the image: a link to a host file
// is resolved in the image's root (a hostile image could otherwise learn or
// use the host's users), and ids outside 0..4294967294 are refused.
func TestLookupUserStaysInTheImage(t *testing.T) {
	host := filepath.Join(t.TempDir(), "host-passwd")
	os.WriteFile(host, []byte("hostonly:x:4242:4242::/home/h:/bin/sh\n"), 0o644)
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.Symlink(host, filepath.Join(root, "etc/passwd"))
	if uid, _, err := LookupUser(root, "hostonly", false); err == nil {
		t.Errorf("a user of the host's file was found: uid %d", uid)
	}
	if home := HomeDir(root, 4242); home != "/" {
		t.Errorf("HomeDir read the host's file: %s", home)
	}
	os.Remove(filepath.Join(root, "etc/passwd"))
	os.WriteFile(filepath.Join(root, "etc/passwd"), []byte("big:x:99999999999:0::/:/bin/sh\nneg:x:-1:0::/:/bin/sh\n"), 0o644)
	for _, spec := range []string{"big", "neg", "4294967295", "-5", "1:99999999999"} {
		if _, _, err := LookupUser(root, spec, true); err == nil || !strings.Contains(err.Error(), "4294967294") {
			t.Errorf("%s: %v, want an id range error", spec, err)
		}
	}
}
