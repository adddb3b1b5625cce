//go:build !linux

package container

import (
	"errors"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/gantry-build/gantry/pkg/sandbox"
	"github.com/gantry-build/gantry/pkg/store"
)

// Off Linux, making or opening a working container says that it needs
// Linux, with the sentinel the CLI can test.
func TestWorkingContainersNeedLinux(t *testing.T) {
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cs := Open(st)
	if _, err := cs.Create("c", "busybox", v1.Hash{Algorithm: "sha256", Hex: "00"}); !errors.Is(err, sandbox.ErrNeedsLinux) {
		t.Errorf("Create: %v", err)
	}
	if _, err := cs.Get("c"); !errors.Is(err, sandbox.ErrNeedsLinux) {
		t.Errorf("Get: %v", err)
	}
	if !errors.Is(Supported(), sandbox.ErrNeedsLinux) {
		t.Errorf("Supported: %v", Supported())
	}
}
