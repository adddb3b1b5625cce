//go:build unix

package atomicfile

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// `gantry save -o /dev/null` (or a FIFO, as in `-o >(gzip > x)`) writes
// through the special file; replacing it with a regular file, as a rename
// does, broke /dev/null for the whole machine when run as root.
func TestWriteThroughSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	go func() {
		b, _ := os.ReadFile(fifo)
		got <- string(b)
	}()
	if err := Write(fifo, func(w io.Writer) error { _, err := io.WriteString(w, "through the pipe"); return err }); err != nil {
		t.Fatal(err)
	}
	if s := <-got; s != "through the pipe" {
		t.Errorf("the reader of the FIFO got %q", s)
	}
	if fi, err := os.Lstat(fifo); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("the FIFO was replaced: %v, %v", fi.Mode(), err)
	}

	if os.Geteuid() != 0 {
		t.Skip("mknod of a character device needs root") // gantry's CI runs as root
	}
	null := filepath.Join(dir, "null")
	if err := unix.Mknod(null, unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
		t.Fatal(err)
	}
	if err := Write(null, func(w io.Writer) error { _, err := io.WriteString(w, "gone"); return err }); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(null); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		t.Errorf("the device was replaced: %v, %v", fi.Mode(), err)
	}
	// A symlink to a device is written through too (its target is what
	// the user named).
	link := filepath.Join(dir, "link")
	os.Symlink(null, link)
	if err := Write(link, func(w io.Writer) error { _, err := io.WriteString(w, "x"); return err }); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link to the device was replaced: %v, %v", fi.Mode(), err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 3 {
		t.Errorf("files in the folder: %v, want only fifo, null and link", entries)
	}
	if err := Write(dir, func(w io.Writer) error { return nil }); err == nil {
		t.Error("a directory as output was accepted")
	}
}

// A file written anew gets the mode a shell redirection or `docker save
// -o` gives (0666 less the umask), not a temp file's 0600: an archive
// another user or a CI step reads must be readable. A file written over
// keeps its mode.
func TestWrittenFilesHaveTheUmasksMode(t *testing.T) {
	dir := t.TempDir()
	old := unix.Umask(0o022)
	defer unix.Umask(old)
	write := func(p string) {
		t.Helper()
		if err := Write(p, func(w io.Writer) error { _, err := io.WriteString(w, "x"); return err }); err != nil {
			t.Fatal(err)
		}
	}
	mode := func(p string) os.FileMode {
		t.Helper()
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Mode().Perm()
	}
	p := filepath.Join(dir, "new.tar")
	write(p)
	if m := mode(p); m != 0o644 {
		t.Errorf("a new file with umask 022: %o, want 644", m)
	}
	unix.Umask(0o077)
	q := filepath.Join(dir, "private.tar")
	write(q)
	if m := mode(q); m != 0o600 {
		t.Errorf("a new file with umask 077: %o, want 600", m)
	}
	if err := os.Chmod(p, 0o640); err != nil {
		t.Fatal(err)
	}
	write(p)
	if m := mode(p); m != 0o640 {
		t.Errorf("a file written over: %o, want its 640 kept", m)
	}
}
