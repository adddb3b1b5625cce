package sandbox

import (
	"strings"
	"testing"
)

// What RUN and working containers answer off Linux is one line that names
// what is missing and what to do: build on Linux, or in gantry's image.
func TestErrNeedsLinuxSaysWhatToDo(t *testing.T) {
	msg := ErrNeedsLinux.Error()
	for _, want := range []string{"RUN needs Linux", "namespaces", "overlayfs", "build on Linux", "gantry's image in a container"} {
		if !strings.Contains(msg, want) {
			t.Errorf("%q does not say %q", msg, want)
		}
	}
	if strings.Contains(msg, "\n") {
		t.Errorf("%q is more than one line", msg)
	}
}
