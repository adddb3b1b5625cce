package dockerfile

import (
	"strings"
	"testing"
)

// RUN --security=sandbox is BuildKit's default and is accepted; insecure
// needs an entitlement gantry does not grant, and is refused with a line
// that says so; other unsupported flags are refused by name.
func TestRunSecurityFlag(t *testing.T) {
	if err := checkRunFlags(parseRun(t, "RUN --security=sandbox true\n")); err != nil {
		t.Errorf("--security=sandbox: %v", err)
	}
	if err := checkRunFlags(parseRun(t, "RUN --network=none --mount=type=tmpfs,target=/t true\n")); err != nil {
		t.Errorf("--network, --mount: %v", err)
	}
	err := checkRunFlags(parseRun(t, "RUN --security=insecure true\n"))
	if err == nil || !strings.Contains(err.Error(), "security.insecure") {
		t.Errorf("--security=insecure: %v, want a refusal naming the entitlement", err)
	}
}
