//go:build !linux

package layer

import (
	"io/fs"
	"strings"
	"testing"
	"time"
)

type fakeInfo struct{ mode fs.FileMode }

func (f fakeInfo) Name() string       { return "null" }
func (f fakeInfo) Size() int64        { return 0 }
func (f fakeInfo) Mode() fs.FileMode  { return f.mode }
func (f fakeInfo) ModTime() time.Time { return time.Unix(0, 0) }
func (f fakeInfo) IsDir() bool        { return false }
func (f fakeInfo) Sys() any           { return nil }

// Off Linux a host's device numbers are not an image's: a device node is
// refused with the reason, a fifo (no number) goes in.
func TestDeviceNodesAreRefusedOffLinux(t *testing.T) {
	_, err := hostRdev(fakeInfo{fs.ModeDevice | fs.ModeCharDevice | 0o666}, "/rootfs/dev/null")
	if err == nil || !strings.Contains(err.Error(), "/rootfs/dev/null is a device node") || !strings.Contains(err.Error(), "Linux") {
		t.Errorf("a device node: %v", err)
	}
	if rdev, err := hostRdev(fakeInfo{fs.ModeNamedPipe | 0o600}, "/rootfs/pipe"); err != nil || rdev != 0 {
		t.Errorf("a fifo: %d, %v", rdev, err)
	}
}
