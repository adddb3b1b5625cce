package dockerfile

import (
	"os"
	"testing"

	"github.com/gantry-build/gantry/pkg/sandbox"
)

// TestMain lets RUN steps run in unit tests: the sandbox re-executes this
// binary as its child, which must become the command and not run the
// tests again.
func TestMain(m *testing.M) {
	if sandbox.IsChild() {
		sandbox.Init()
	}
	os.Exit(m.Run())
}
