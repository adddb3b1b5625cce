package dockerfile

import (
	"os"
	"path/filepath"
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

// The default network is prepared ahead (prepareRuns) only for builds
// with a RUN on it: not for RUN --network=host/none, nor under the build's
// --network host.
func TestRunsOnDefaultNetwork(t *testing.T) {
	for _, c := range []struct {
		df, network string
		want        bool
	}{
		{"FROM a\nCOPY . /\n", "", false},
		{"FROM a\nRUN true\n", "", true},
		{"FROM a\nRUN --network=default true\n", "", true},
		{"FROM a\nRUN --network=host true\nRUN --network=none true\n", "", false},
		{"FROM a\nRUN true\n", "host", false},
		{"FROM a\nRUN true\n", "none", false},
		{"FROM a AS one\nRUN --network=none true\nFROM a\nRUN true\n", "", true},
	} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(c.df), 0o644); err != nil {
			t.Fatal(err)
		}
		stages, _, _, err := parseDockerfile(filepath.Join(dir, "Dockerfile"))
		if err != nil {
			t.Fatal(err)
		}
		b := &dfBuild{stages: stages, o: DockerfileOptions{Network: c.network}}
		if got := b.runsOnDefaultNetwork(); got != c.want {
			t.Errorf("%q with --network %q: %v, want %v", c.df, c.network, got, c.want)
		}
	}
}
