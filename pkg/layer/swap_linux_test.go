package layer

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// A folder on a listed file's path swapped for a link (to a host folder
// holding a file of that name: a secret, a device) after listing: the host
// file is not even opened (opening some devices acts), watched with
// inotify. Linux refuses every link on the path (openat2).
func TestFolderSwappedForALinkIsNotOpened(t *testing.T) {
	src, host := t.TempDir(), t.TempDir()
	for _, dir := range []string{filepath.Join(src, "sub"), host} {
		os.MkdirAll(dir, 0o755)
		for _, size := range []int{100, readAheadMax + 100} {
			name := filepath.Join(dir, "f"+string(rune('0'+size%7)))
			if err := os.WriteFile(name, bytes.Repeat([]byte("x"), size), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	es, err := Collect([]Add{{Src: src, Dest: "/app"}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(src, "sub"), filepath.Join(src, "old")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(host, filepath.Join(src, "sub")); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if _, err := unix.InotifyAddWatch(fd, host, unix.IN_OPEN); err != nil {
		t.Fatal(err)
	}
	if err := Write(io.Discard, es, Options{}); err == nil {
		t.Error("the layer was written through the link")
	}
	for _, e := range es {
		if e.Mode.IsRegular() {
			if _, err := hashFile(e); err == nil {
				t.Errorf("%s hashed through the link", e.Name)
			}
		}
	}
	buf := make([]byte, 4096)
	if n, _ := unix.Read(fd, buf); n > 0 {
		t.Errorf("a file of the host folder was opened through the link (%d bytes of inotify events)", n)
	}
}
