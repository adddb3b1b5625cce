//go:build !linux

package sandbox

import (
	"context"
	"errors"
	"io"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Off Linux every way to run a command says ErrNeedsLinux, so that callers
// and the CLI can tell it with errors.Is.
func TestEverythingThatRunsNeedsLinux(t *testing.T) {
	_, runErr := Run(context.Background(), Spec{Args: []string{"true"}}, io.Discard, io.Discard)
	_, execErr := CanExec(v1.Platform{OS: "linux", Architecture: "amd64"})
	_, isoErr := IsolationAuto.Resolve()
	_, hostErr := NewHostRoot()
	for name, err := range map[string]error{"Run": runErr, "CanExec": execErr, "Resolve": isoErr, "NewHostRoot": hostErr} {
		if !errors.Is(err, ErrNeedsLinux) {
			t.Errorf("%s: %v, want ErrNeedsLinux", name, err)
		}
	}
	if IsChild() {
		t.Error("IsChild is true")
	}
}
