package rootfs

import (
	"slices"
	"strconv"
	"strings"

	"github.com/gantry-build/gantry/pkg/config"
)

// Process is who a container's process is and what it starts with, as a
// runtime (runc through Docker or BuildKit) makes it from the image: RUN
// steps and gantry run start theirs from the same one.
type Process struct {
	UID, GID int
	Groups   []int    // supplementary groups, the primary first
	Env      []string // the image's (or step's) env with PATH and HOME defaulted
}

// ProcessFor resolves user (USER, or docker run -u: "user[:group]", names or
// ids) against the image's /etc files under root and completes env as
// runtimes do: PATH defaults to defaultPath when env has none, HOME to the
// user's /etc/passwd entry (else "/"). groups false leaves Groups empty:
// where only the caller's id is mapped, setgroups is denied.
func ProcessFor(root, user string, env []string, defaultPath string, groups bool) (Process, error) {
	uid, gid, err := LookupUser(root, user, false)
	if err != nil {
		return Process{}, err
	}
	p := Process{UID: uid, GID: gid, Env: slices.Clone(env)}
	if groups {
		p.Groups = supplementaryGroups(root, user, gid)
	}
	if !config.HasEnv(p.Env, "PATH") {
		p.Env = append(p.Env, "PATH="+defaultPath)
	}
	if !config.HasEnv(p.Env, "HOME") {
		p.Env = append(p.Env, "HOME="+HomeDir(root, uid))
	}
	return p, nil
}

// supplementaryGroups are the groups of USER spec with primary group gid,
// as BuildKit gives them (executor/oci GetUser, then
// ensureAdditionalGids) and runc for docker run: when spec names no group,
// every group of the image's /etc/group that lists the user's name; then
// the primary group first, unless it is listed already. The files are read
// inside root.
func supplementaryGroups(root, spec string, gid int) []int {
	user, _, explicit := strings.Cut(spec, ":")
	if user == "" {
		user = "0"
	}
	var groups []int
	if !explicit {
		name := user
		if _, err := strconv.Atoi(user); err == nil {
			name = ""
			if e, ok := FindEntry(root, "etc/passwd", func(f []string) bool { return len(f) > 2 && f[2] == user }); ok {
				name = e[0]
			}
		}
		if name != "" {
			for _, f := range entries(root, "etc/group") {
				if len(f) < 4 || !slices.Contains(strings.Split(f[3], ","), name) {
					continue
				}
				if g, err := strconv.Atoi(f[2]); err == nil {
					groups = append(groups, g)
				}
			}
		}
	}
	if !slices.Contains(groups, gid) {
		groups = append([]int{gid}, groups...)
	}
	return groups
}
