//go:build unix

package layer

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// swapAfterListing lists a folder whose file "f" (small, or larger than
// what is read ahead) is then replaced by what swap makes at its path.
func swapAfterListing(t *testing.T, size int, swap func(path string)) []Entry {
	t.Helper()
	src := t.TempDir()
	for _, n := range []string{"a", "f", "z"} {
		if err := os.WriteFile(filepath.Join(src, n), bytes.Repeat([]byte("x"), size), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	es, err := Collect([]Add{{Src: src, Dest: "/app"}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(src, "f")
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	swap(p)
	return es
}

// A file replaced after listing by a link to a host file of the same size
// and time (an attacker can read both off the target's stat) is not read
// through the link: the layer fails instead of holding the host's file.
// Nor is a FIFO put in its place waited on. The same holds for the
// content hash of an unchanged-build check.
func TestFileSwappedAfterListingIsNotRead(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "secret")
	for _, size := range []int{100, readAheadMax + 100} {
		if err := os.WriteFile(secret, bytes.Repeat([]byte("S"), size), 0o600); err != nil {
			t.Fatal(err)
		}
		toLink := func(p string) {
			if err := os.Symlink(secret, p); err != nil {
				t.Fatal(err)
			}
		}
		toFIFO := func(p string) {
			if err := syscall.Mkfifo(p, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		for name, swap := range map[string]func(string){"link": toLink, "fifo": toFIFO} {
			es := swapAfterListing(t, size, swap)
			// The listed file's size and time, on the secret.
			for _, e := range es {
				if e.Name == "app/f" {
					os.Chtimes(secret, time.Unix(0, e.stat.Mtime), time.Unix(0, e.stat.Mtime))
				}
			}
			done := make(chan error, 1)
			go func() {
				var buf bytes.Buffer
				err := Write(&buf, es, Options{})
				if err == nil && bytes.Contains(buf.Bytes(), []byte("SSSS")) {
					err = errors.New("the layer holds the link's target")
				}
				done <- err
			}()
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), "changed while it was being read") {
					t.Errorf("%d bytes, swapped for a %s: %v", size, name, err)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("%d bytes, swapped for a %s: the layer's write waits", size, name)
			}
			hashed := make(chan error, 1)
			go func() {
				for _, e := range es {
					if e.Name == "app/f" {
						_, err := hashFile(e)
						hashed <- err
					}
				}
			}()
			select {
			case err := <-hashed:
				if err == nil {
					t.Errorf("%d bytes, swapped for a %s: hashed", size, name)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("%d bytes, swapped for a %s: hashing waits", size, name)
			}
		}
	}
}
