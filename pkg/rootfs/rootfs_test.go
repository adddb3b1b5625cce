package rootfs

import (
	"strings"
	"testing"
)

// What unpacking into a folder answers on Windows is one line that says
// where it works and what works here instead.
func TestErrNeedsUnixSaysWhatToDo(t *testing.T) {
	msg := ErrNeedsUnix.Error()
	for _, want := range []string{"needs Linux or macOS", "gantry's image in a container", "export -o FILE.tar"} {
		if !strings.Contains(msg, want) {
			t.Errorf("%q does not say %q", msg, want)
		}
	}
	if strings.Contains(msg, "\n") {
		t.Errorf("%q is more than one line", msg)
	}
}
