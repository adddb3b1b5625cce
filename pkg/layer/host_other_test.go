//go:build !linux && !darwin

package layer

import (
	"io/fs"
	"testing"
)

// Windows keeps no execute bits: files and folders start from 0755, as in
// Docker's builds from Windows, so that an added program runs.
func TestHostFilesAre0755(t *testing.T) {
	for in, want := range map[fs.FileMode]fs.FileMode{
		0o666:              0o755,
		0o444:              0o755,
		fs.ModeDir | 0o777: fs.ModeDir | 0o755,
	} {
		if got := hostMode(in); got != want {
			t.Errorf("hostMode(%v) = %v, want %v", in, got, want)
		}
	}
	e := withOwner(Entry{Name: "app"}, fakeInfo{0o666}, `C:\src\app`)
	if e.uid != 0 || e.gid != 0 {
		t.Errorf("owner %d:%d, want root's", e.uid, e.gid)
	}
}
