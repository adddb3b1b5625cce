package rootfs

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A directory a later layer gives back to root is root's again: merging a
// directory over one that exists sets the owner the layer gives, root's
// included (with root, the inode's owner; without it, the owner kept in
// OwnerXattr).
func TestALaterLayerGivesADirectoryBackToRoot(t *testing.T) {
	dir := t.TempDir()
	layer := func(uid int) *bytes.Reader {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		for _, h := range []*tar.Header{
			{Name: "opt/", Typeflag: tar.TypeDir, Mode: 0o755, Uid: uid, Gid: uid, ModTime: time.Unix(1000, 0)},
			{Name: "opt/f", Typeflag: tar.TypeReg, Mode: 0o644, Uid: uid, Gid: uid, ModTime: time.Unix(1000, 0)},
		} {
			if err := tw.WriteHeader(h); err != nil {
				t.Fatal(err)
			}
		}
		tw.Close()
		return bytes.NewReader(buf.Bytes())
	}
	for _, uid := range []int{1000, 0} {
		if err := Apply(dir, layer(uid)); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"opt", "opt/f"} {
			p := filepath.Join(dir, name)
			got := -1
			if os.Geteuid() == 0 {
				fi, err := os.Lstat(p)
				if err != nil {
					t.Fatal(err)
				}
				got = int(fi.Sys().(*syscall.Stat_t).Uid)
			} else {
				buf := make([]byte, 32)
				got = 0
				if n, err := unix.Lgetxattr(p, OwnerXattr, buf); err == nil && string(buf[:n]) != "0:0" {
					got = uid + 1 // any recorded owner but root's
					if string(buf[:n]) == "1000:1000" {
						got = 1000
					}
				}
			}
			if got != uid {
				t.Errorf("after the layer giving it to %d, %s is %d's", uid, name, got)
			}
		}
	}
}
