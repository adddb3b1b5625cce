package rootfs

import (
	"archive/tar"
	"bytes"
	"io"
	"io/fs"
	"reflect"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// imageOf is an image of one layer per list of entries, each written
// through the codec (regular files hold their name as content).
func imageOf(t *testing.T, layers ...[]Meta) v1.Image {
	t.Helper()
	img := empty.Image
	for _, entries := range layers {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		for _, m := range entries {
			if m.Mode.IsRegular() {
				m.Size = int64(len(m.Name))
			}
			if err := tw.WriteHeader(m.Header()); err != nil {
				t.Fatal(err)
			}
			if m.Mode.IsRegular() {
				io.WriteString(tw, m.Name)
			}
		}
		tw.Close()
		b := buf.Bytes()
		l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
		if err != nil {
			t.Fatal(err)
		}
		if img, err = mutate.AppendLayers(img, l); err != nil {
			t.Fatal(err)
		}
	}
	return img
}

// As docker diff, gantry diff reports a path changed when its file
// capabilities or device number change, even with content, mode, owner
// and mtime the same (setcap, mknod again); other xattrs are not compared
// (docker diff does not).
func TestDiffSeesCapabilitiesAndDeviceNumbers(t *testing.T) {
	when := time.Unix(1700000000, 0)
	ping := Meta{Name: "bin/ping", Mode: 0o755, ModTime: when}
	tool := Meta{Name: "bin/tool", Mode: 0o755, ModTime: when}
	null := Meta{Name: "dev/null", Mode: fs.ModeDevice | fs.ModeCharDevice | 0o666, Devmajor: 1, Devminor: 3, ModTime: when}
	same := Meta{Name: "bin/same", Mode: 0o644, ModTime: when}
	capped, zero, tagged := ping, null, tool
	capped.Xattrs = map[string]string{"security.capability": "\x01\x00\x00\x02"}
	zero.Devminor = 5
	tagged.Xattrs = map[string]string{"user.note": "x"}
	base := []Meta{{Name: "bin", Mode: fs.ModeDir | 0o755, ModTime: when}, {Name: "dev", Mode: fs.ModeDir | 0o755, ModTime: when}, ping, tool, null, same}
	got, err := Diff(nil, imageOf(t, base, []Meta{capped, zero, tagged, same}))
	if err != nil {
		t.Fatal(err)
	}
	want := []Change{{"C", "/bin/ping"}, {"C", "/dev/null"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Diff = %v, want %v", got, want)
	}
}
