// Package userns gives an unprivileged gantry the ids a build needs.
//
// Without root, gantry can map only the caller's own id into a user
// namespace, so every file is root's and a RUN as another USER cannot
// switch ids. Where the system grants the user a range of subordinate ids
// (/etc/subuid and /etc/subgid, with the setuid helpers newuidmap and
// newgidmap of the uidmap package), gantry re-executes itself in a user
// namespace that maps the caller to root and the range to ids 1..N, as
// rootless Podman does. Inside it gantry is root: layers unpack with their
// real owners, RUN switches users, and changes are read back with the ids
// the image sees.
package userns

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"sync"
)

// stateEnv tells a re-executed gantry where it is: "wait" until its maps
// are written, then "1" once it runs as root in the namespace.
const stateEnv = "_GANTRY_USERNS"

// Range is one line of /etc/subuid or /etc/subgid.
type Range struct{ Start, Count int }

// SubordinateRange finds the first range granted to the user (by name or by
// numeric id) in an /etc/subuid-style file.
func SubordinateRange(file, name string, id int) (Range, bool) {
	f, err := os.Open(file)
	if err != nil {
		return Range{}, false
	}
	defer f.Close()
	return parseRange(f, name, id)
}

func parseRange(r io.Reader, name string, id int) (Range, bool) {
	s := bufio.NewScanner(r)
	for s.Scan() {
		fields := strings.Split(strings.TrimSpace(s.Text()), ":")
		if len(fields) != 3 || (fields[0] != name && fields[0] != strconv.Itoa(id)) {
			continue
		}
		start, err1 := strconv.Atoi(fields[1])
		count, err2 := strconv.Atoi(fields[2])
		if err1 == nil && err2 == nil && count > 0 {
			return Range{start, count}, true
		}
	}
	return Range{}, false
}

// Inside reports whether this process runs in a user namespace other than
// the host's: its root is then no real root, and overlayfs needs its
// userxattr option.
func Inside() bool { return inside() }

var inside = sync.OnceValue(func() bool {
	b, err := os.ReadFile("/proc/self/uid_map")
	if err != nil {
		return false
	}
	f := strings.Fields(string(b))
	return !(len(f) == 3 && f[0] == "0" && f[1] == "0" && f[2] == "4294967295")
})

// plan is what the re-exec needs: the helpers and the ranges.
type plan struct {
	newuidmap, newgidmap string
	uids, gids           Range
}

// available finds the helpers and the caller's ranges; why says what is
// missing when they are not.
func available() (p plan, why string) {
	var err error
	if p.newuidmap, err = exec.LookPath("newuidmap"); err != nil {
		return p, "newuidmap is not installed (Debian package uidmap)"
	}
	if p.newgidmap, err = exec.LookPath("newgidmap"); err != nil {
		return p, "newgidmap is not installed (Debian package uidmap)"
	}
	name := strconv.Itoa(os.Getuid())
	if u, err := user.LookupId(name); err == nil {
		name = u.Username
	}
	var ok bool
	if p.uids, ok = SubordinateRange("/etc/subuid", name, os.Getuid()); !ok {
		return p, "/etc/subuid grants no range to " + name
	}
	if p.gids, ok = SubordinateRange("/etc/subgid", name, os.Getuid()); !ok {
		return p, "/etc/subgid grants no range to " + name
	}
	return p, ""
}

// Why says why RUN cannot switch users without root here, for an error
// message; "" when it can.
func Why() string {
	if os.Geteuid() == 0 {
		return ""
	}
	if failed != nil {
		return "the user namespace could not be made: " + failed.Error()
	}
	_, why := available()
	return why
}

// Enter is called first thing by main. As root, or where no subordinate
// ids are granted (or GANTRY_USERNS=0), it returns and gantry runs as it
// is. Otherwise it re-executes gantry in a new user namespace and exits
// with its exit code: it returns only in the re-executed process, which
// then runs as root of that namespace. When the namespace cannot be made
// (user namespaces disabled, a broken newuidmap), warn says why and gantry
// goes on without it, as if no ids were granted.
func Enter(warn func(string)) error {
	switch os.Getenv(stateEnv) {
	case "1":
		return nil
	case "wait":
		return becomeRoot()
	}
	if os.Geteuid() == 0 || os.Getenv("GANTRY_USERNS") == "0" {
		return nil
	}
	p, why := available()
	if why != "" {
		return nil
	}
	code, err := reexec(p)
	if err != nil {
		warn(fmt.Sprintf("cannot enter a user namespace with your subordinate ids (%v): going on with your own id only (GANTRY_USERNS=0 skips the attempt)", err))
		failed = err
		return nil
	}
	os.Exit(code)
	return nil
}

// failed is why Enter could not make the namespace, for Why.
var failed error

func withoutState(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, stateEnv+"=") {
			out = append(out, kv)
		}
	}
	return out
}
