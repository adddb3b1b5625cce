package config

import (
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Docker takes a stop signal by name, with or without SIG, in any case, or
// by number (moby/sys/signal ParseSignal); anything else would fail only
// when the container is stopped, long after the build.
func TestStopSignal(t *testing.T) {
	for _, s := range []string{"SIGTERM", "TERM", "sigkill", "9", "SIGUSR1", "SIGRTMIN+3", "RTMAX", "SIGRTMAX-2", "64"} {
		if err := ValidStopSignal(s); err != nil {
			t.Errorf("ValidStopSignal(%q) = %v", s, err)
		}
	}
	for _, s := range []string{"SIGFOO", "0", "-1", "65", "9x", "", "SIG", "SIGRTMIN+31", "TERM\n"} {
		if err := ValidStopSignal(s); err == nil {
			t.Errorf("ValidStopSignal(%q) accepted", s)
		}
	}
	cf := &v1.ConfigFile{}
	if err := (Edits{StopSignal: str("SIGFOO")}).Apply(cf, time.Time{}); err == nil || cf.Config.StopSignal != "" {
		t.Errorf("--stop-signal SIGFOO: %v, config %q", err, cf.Config.StopSignal)
	}
	if err := ApplyChanges(cf, []string{"STOPSIGNAL SIGFOO"}, time.Time{}); err == nil {
		t.Error("--change 'STOPSIGNAL SIGFOO' accepted")
	}
}

// Owners are 32-bit ids; 4294967295 is (uid_t)-1, "no change" to chown(2).
func TestParseChown(t *testing.T) {
	for s, want := range map[string][2]int{"0": {0, 0}, "1000": {1000, 1000}, "1000:50": {1000, 50}, "4294967294:4294967294": {4294967294, 4294967294}} {
		uid, gid, err := ParseChown(s)
		if err != nil || uid != want[0] || gid != want[1] {
			t.Errorf("ParseChown(%q) = %d, %d, %v", s, uid, gid, err)
		}
	}
	for _, s := range []string{"-1", "4294967295", "4294967296", "99999999999999999999", "1000:-2", "a:b", "", ":1", "1:"} {
		if _, _, err := ParseChown(s); err == nil {
			t.Errorf("ParseChown(%q) accepted", s)
		}
	}
}
