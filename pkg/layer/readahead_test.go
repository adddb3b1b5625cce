package layer

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// manyFiles makes n files of varied sizes, a few larger than what is read
// ahead, and a hard link (written by the writer, with no content).
func manyFiles(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	for i := range n {
		size := (i * 977) % 9000
		if i%97 == 5 {
			size = readAheadMax + 1 + i
		}
		data := bytes.Repeat([]byte{byte('a' + i%26)}, size)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%04d", i)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Link(filepath.Join(dir, "f0003"), filepath.Join(dir, "hardlink")); err != nil {
		t.Fatal(err)
	}
	return dir
}

// The tar holds every file's bytes in order and each sum is its file's,
// whichever path (read ahead or by the writer) a file took.
func TestWriteReadsAheadInOrder(t *testing.T) {
	src := manyFiles(t, 600)
	es, err := Collect([]Add{{Src: src, Dest: "/app"}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	sums := make([][]byte, len(es))
	if err := write(&buf, es, Options{}, sums); err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(&buf)
	for i, e := range es {
		h, err := tr.Next()
		if err != nil {
			t.Fatal(err)
		}
		if h.Name != strings.TrimSuffix(e.Name, "/") && h.Name != e.Name+"/" {
			t.Fatalf("entry %d: %q, want %q", i, h.Name, e.Name)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		got, _ := io.ReadAll(tr)
		want, err := os.ReadFile(e.Source)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%s: %d bytes in the tar, the file has %d", e.Name, len(got), len(want))
		}
		if s := sha256.Sum256(want); !bytes.Equal(sums[i], s[:]) {
			t.Fatalf("%s: sum %x, want %x", e.Name, sums[i], s)
		}
	}
	if _, err := tr.Next(); err != io.EOF {
		t.Fatalf("more entries than collected: %v", err)
	}
}

type failingWriter struct{ left int }

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.left -= len(p); w.left < 0 {
		return 0, errors.New("disk full")
	}
	return len(p), nil
}

// A writer that fails stops the reading ahead: no reader is left behind.
func TestWriteFailureLeavesNoReader(t *testing.T) {
	src := manyFiles(t, 600)
	es, err := Collect([]Add{{Src: src, Dest: "/app"}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	before := runtime.NumGoroutine()
	err = Write(&failingWriter{left: 20_000}, es, Options{})
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("err = %v", err)
	}
	deadline := time.Now().Add(time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Fatalf("%d goroutines after the failed write, %d before", n, before)
	}
}

// A file changed after it was listed fails the layer when it was read
// ahead too (TestFileChangingWhileReadFails: when the writer reads it).
func TestReadAheadFileChangedFails(t *testing.T) {
	src := manyFiles(t, 50)
	es, err := Collect([]Add{{Src: src, Dest: "/app"}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "f0040"), []byte("other"), 0o644); err != nil {
		t.Fatal(err)
	}
	err = Write(io.Discard, es, Options{})
	if err == nil || !strings.Contains(err.Error(), "changed while it was being read") {
		t.Fatalf("err = %v", err)
	}
}

// A file emptied or shortened after listing is said to have changed, as
// the writer's own reads say it.
func TestReadAheadShortFileFails(t *testing.T) {
	for _, now := range []string{"", "ab"} {
		src := manyFiles(t, 50)
		es, err := Collect([]Add{{Src: src, Dest: "/app"}}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, "f0041"), []byte(now), 0o644); err != nil {
			t.Fatal(err)
		}
		err = Write(io.Discard, es, Options{})
		if err == nil || !strings.Contains(err.Error(), "changed while it was being read") {
			t.Errorf("file now %q: err = %v", now, err)
		}
	}
}

// What is read ahead holds about the files' own sizes, not a window of the
// largest: 128 small files must not keep 16 MiB of buffers (on a VM where
// fresh memory costs 12 µs a page, that was a tenth of a cold build's CPU).
func TestReadAheadBuffersFitTheFiles(t *testing.T) {
	dir := t.TempDir()
	var entries []Entry
	for i := range 2 * readAheadWindow {
		p := filepath.Join(dir, fmt.Sprintf("f%03d", i))
		if err := os.WriteFile(p, bytes.Repeat([]byte("x"), 100+i), 0o644); err != nil {
			t.Fatal(err)
		}
		es, err := Collect([]Add{{Src: p, Dest: "/" + filepath.Base(p)}}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, es...)
	}
	r := startReadAhead(entries, false)
	defer r.stop()
	held := 0
	for i := range entries {
		f := r.take(i)
		if f == nil || f.err != nil {
			t.Fatalf("entry %d: %+v", i, f)
		}
		held += cap(f.data)
		r.recycle(f)
	}
	// 256 files of about 230 bytes: a page each would be 1 MiB.
	if held > 256*8192 {
		t.Errorf("the read-ahead handed out %d bytes of buffers for 256 files of 100-355 bytes", held)
	}
}
