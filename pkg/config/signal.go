package config

import (
	"fmt"
	"strconv"
	"strings"
)

// linuxSignals are the names Docker's signal.ParseSignal knows on Linux.
var linuxSignals = map[string]bool{
	"ABRT": true, "ALRM": true, "BUS": true, "CHLD": true, "CLD": true, "CONT": true, "FPE": true,
	"HUP": true, "ILL": true, "INT": true, "IO": true, "IOT": true, "KILL": true, "PIPE": true,
	"POLL": true, "PROF": true, "PWR": true, "QUIT": true, "SEGV": true, "STKFLT": true,
	"STOP": true, "SYS": true, "TERM": true, "TRAP": true, "TSTP": true, "TTIN": true,
	"TTOU": true, "URG": true, "USR1": true, "USR2": true, "VTALRM": true, "WINCH": true,
	"XCPU": true, "XFSZ": true, "UNUSED": true,
}

// CheckSignal accepts what docker's STOPSIGNAL and --stop-signal accept: a
// signal number (1–64) or a name, with or without SIG, RTMIN+n and RTMAX-n
// included.
func CheckSignal(s string) error {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 1 || n > 64 {
			return fmt.Errorf("invalid stop signal %q: a signal number is 1 to 64", s)
		}
		return nil
	}
	name := strings.TrimPrefix(strings.ToUpper(s), "SIG")
	if linuxSignals[name] {
		return nil
	}
	for _, rt := range []string{"RTMIN", "RTMAX"} {
		if rest, ok := strings.CutPrefix(name, rt); ok {
			if rest == "" {
				return nil
			}
			if n, err := strconv.Atoi(rest[1:]); err == nil && (rest[0] == '+' || rest[0] == '-') && n >= 0 && n <= 15 {
				return nil
			}
		}
	}
	return fmt.Errorf("invalid stop signal %q: use a name such as SIGTERM or SIGQUIT, or a number", s)
}
