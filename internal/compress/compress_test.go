package compress

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"os/exec"
	"runtime"
	"testing"
)

// Every format round-trips through NewWriter (where gantry writes it) or
// the system's tools (bzip2, xz) and NewReader tells it by its bytes.
func TestSniffAndRoundTrip(t *testing.T) {
	payload := bytes.Repeat([]byte("gantry layer bytes\n"), 1000)
	for _, k := range []Kind{None, Gzip, Zstd} {
		var buf bytes.Buffer
		w, err := NewWriter(&buf, k)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(payload)
		w.Close()
		checkRead(t, k, buf.Bytes(), payload)
	}
	for k, tool := range map[Kind]string{Bzip2: "bzip2", Xz: "xz"} {
		if _, err := exec.LookPath(tool); err != nil {
			continue // the Go-written formats above carry the test
		}
		cmd := exec.Command(tool, "-c")
		cmd.Stdin = bytes.NewReader(payload)
		out, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		checkRead(t, k, out, payload)
	}
}

func checkRead(t *testing.T, want Kind, data, payload []byte) {
	t.Helper()
	r, k, err := NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s: %v", want, err)
	}
	defer r.Close()
	got, err := io.ReadAll(r)
	if k != want || err != nil || !bytes.Equal(got, payload) {
		t.Errorf("%s: read as %s, %d bytes, err %v", want, k, len(got), err)
	}
}

func FuzzNewReader(f *testing.F) {
	f.Add([]byte{0x1f, 0x8b, 8, 0, 0, 0})
	f.Add([]byte{0x28, 0xb5, 0x2f, 0xfd, 0, 0})
	f.Add([]byte("BZh91AY&SY"))
	f.Add([]byte{0xfd, '7', 'z', 'X', 'Z', 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		r, _, err := NewReader(bytes.NewReader(data))
		if err != nil {
			return
		}
		io.Copy(io.Discard, io.LimitReader(r, 1<<20))
		r.Close()
	})
}

// A gzip layer's bytes are pinned: the same tar gives the same blob, and
// so the same digest, on any number of cores and in every gantry that
// keeps this level (the layer keys name it). The input spans several of
// pgzip's blocks.
func TestGzipBytesArePinned(t *testing.T) {
	var payload []byte
	x := uint32(1)
	for i := 0; len(payload) < 3<<20; i++ {
		x = x*1664525 + 1013904223 // a fixed sequence: half text, half noise
		payload = fmt.Appendf(payload, "file %d of the tree %08x\n", i, x>>(i%24))
	}
	const want = "3f453c1ee670a12bcee450a39f7aedd3edc55d7495a41fb737a14d84d312f802"
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, procs := range []int{1, 2, 4} {
		runtime.GOMAXPROCS(procs)
		var buf bytes.Buffer
		w, err := NewWriter(&buf, Gzip)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(payload)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprintf("%x", sha256.Sum256(buf.Bytes())); got != want {
			t.Errorf("on %d cores: gzip of the payload hashes to %s (%d bytes), want %s", procs, got, buf.Len(), want)
		}
	}
}
