package dockerfile

import (
	"bufio"
	"os"
	"slices"
	"strconv"
	"strings"
)

// supplementaryGroups are the groups a RUN step's process has as USER spec
// with primary group gid, as BuildKit gives them (executor/oci GetUser,
// then ensureAdditionalGids): when spec names no group, every group of the
// image's /etc/group that lists the user's name; then the primary group
// first, unless it is listed already. The files are read inside root.
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
			for _, f := range etcEntries(root, "/etc/passwd") {
				if len(f) > 2 && f[2] == user {
					name = f[0]
					break
				}
			}
		}
		if name != "" {
			for _, f := range etcEntries(root, "/etc/group") {
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

// etcEntries are the colon-separated lines of an /etc/passwd-style file of
// the image under root, found inside root (a link cannot lead to the
// host's file); none when it is missing.
func etcEntries(root, file string) [][]string {
	p, err := inRoot(root, file)
	if err != nil {
		return nil
	}
	f, err := os.Open(p)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out [][]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := sc.Text(); line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, strings.Split(line, ":"))
		}
	}
	return out
}
