package config

import (
	"fmt"
	"strconv"
	"strings"
)

// sigRTMax is Linux's highest signal number (SIGRTMAX).
const sigRTMax = 64

// signalNames are the Linux signal names Docker knows (moby/sys/signal's
// SignalMap for linux), without the SIG prefix.
var signalNames = func() map[string]bool {
	m := map[string]bool{}
	for _, n := range strings.Fields(`ABRT ALRM BUS CHLD CLD CONT FPE HUP ILL INT IO IOT KILL PIPE POLL PROF PWR
		QUIT SEGV STKFLT STOP SYS TERM TRAP TSTP TTIN TTOU URG USR1 USR2 VTALRM WINCH XCPU XFSZ RTMIN RTMAX`) {
		m[n] = true
	}
	for i := 1; i <= 15; i++ {
		m["RTMIN+"+strconv.Itoa(i)] = true
		if i <= 14 {
			m["RTMAX-"+strconv.Itoa(i)] = true
		}
	}
	return m
}()

// ValidStopSignal accepts what Docker's signal.ParseSignal accepts: a signal
// number from 1 to SIGRTMAX, or a Linux signal name with or without the SIG
// prefix, in any case. Docker keeps the string as it was written; an
// unknown one would only fail when the container is stopped.
func ValidStopSignal(s string) error {
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > sigRTMax {
			return fmt.Errorf("invalid stop signal %q: signal numbers go from 1 to %d", s, sigRTMax)
		}
		return nil
	}
	if !signalNames[strings.TrimPrefix(strings.ToUpper(s), "SIG")] {
		return fmt.Errorf("invalid stop signal %q: use a signal name such as SIGTERM or SIGQUIT, or its number", s)
	}
	return nil
}

// maxID is the highest user or group id a layer may give a file: ids are
// 32-bit, and 4294967295 is (uid_t)-1, which chown(2) reads as "no change".
const maxID = 1<<32 - 2

// ParseChown reads a numeric UID[:GID] (GID defaults to UID), as --chown of
// the Dockerfile-free build takes it, refusing ids outside 0..4294967294.
func ParseChown(s string) (uid, gid int, err error) {
	u, g, hasGroup := strings.Cut(s, ":")
	bad := func() (int, int, error) {
		return 0, 0, fmt.Errorf("invalid --chown %q: use numeric UID[:GID], each from 0 to %d", s, maxID)
	}
	id := func(v string) (int, bool) {
		n, err := strconv.ParseUint(v, 10, 32)
		return int(n), err == nil && n <= maxID
	}
	uid, ok := id(u)
	if !ok {
		return bad()
	}
	gid = uid
	if hasGroup {
		if gid, ok = id(g); !ok {
			return bad()
		}
	}
	return uid, gid, nil
}
