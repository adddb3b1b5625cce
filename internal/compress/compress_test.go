package compress

import (
	"bytes"
	"io"
	"os/exec"
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
