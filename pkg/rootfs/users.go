package rootfs

import (
	"os"

	securejoin "github.com/cyphar/filepath-securejoin"

	"bufio"
	"fmt"
	"strconv"
	"strings"
)

// LookupUser resolves USER or --chown's "user[:group]" against the image's
// /etc/passwd and /etc/group under root. Numeric ids pass through. Without a
// group, a user name brings its primary group; a bare numeric uid gets gid 0
// for USER and the uid itself for --chown, as BuildKit does.
func LookupUser(root, spec string, chown bool) (uid, gid int, err error) {
	user, group, hasGroup := strings.Cut(spec, ":")
	if user == "" {
		return 0, 0, nil
	}
	numeric := false
	if isNumber(user) {
		if uid, err = parseID(user); err != nil {
			return 0, 0, err
		}
		numeric = true
		if e, ok := FindEntry(root, "etc/passwd", func(f []string) bool { return len(f) > 3 && f[2] == user }); ok {
			if gid, err = parseID(e[3]); err != nil {
				return 0, 0, err
			}
		}
	} else {
		e, ok := FindEntry(root, "etc/passwd", func(f []string) bool { return f[0] == user })
		if !ok || len(e) < 4 {
			return 0, 0, fmt.Errorf("user %q is not in the image's /etc/passwd", user)
		}
		if uid, err = parseID(e[2]); err != nil {
			return 0, 0, err
		}
		if gid, err = parseID(e[3]); err != nil {
			return 0, 0, err
		}
	}
	if !hasGroup {
		if chown && numeric {
			return uid, uid, nil
		}
		return uid, gid, nil
	}
	if isNumber(group) {
		gid, err = parseID(group)
		return uid, gid, err
	}
	e, ok := FindEntry(root, "etc/group", func(f []string) bool { return f[0] == group })
	if !ok || len(e) < 3 {
		return 0, 0, fmt.Errorf("group %q is not in the image's /etc/group", group)
	}
	gid, err = parseID(e[2])
	return uid, gid, err
}

// maxID is the highest id a file may have: ids are 32-bit, and 4294967295
// is (uid_t)-1, which chown(2) reads as "no change".
const maxID = 1<<32 - 2

func isNumber(s string) bool {
	s = strings.TrimPrefix(s, "-")
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// parseID reads a uid or gid, refusing what no file can have.
func parseID(s string) (int, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n > maxID {
		return 0, fmt.Errorf("id %q: user and group ids go from 0 to %d", s, uint64(maxID))
	}
	return int(n), nil
}

// FindEntry returns the first line of an /etc/passwd-style file under root
// whose colon-separated fields match. The file is opened inside root: an
// image whose /etc/passwd links elsewhere is read within the image.
func FindEntry(root, file string, match func([]string) bool) ([]string, bool) {
	for _, fields := range entries(root, file) {
		if match(fields) {
			return fields, true
		}
	}
	return nil, false
}

// entries are the colon-separated lines of an /etc/passwd-style file under
// root, but blank lines and comments, read inside root: an image whose
// /etc/passwd links elsewhere is read within the image. None when missing.
func entries(root, file string) [][]string {
	p, err := securejoin.SecureJoin(root, file)
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

// HomeDir is uid's home directory in the image's /etc/passwd under root, or
// "/" as container runtimes default it.
func HomeDir(root string, uid int) string {
	if e, ok := FindEntry(root, "etc/passwd", func(f []string) bool { return len(f) > 5 && f[2] == strconv.Itoa(uid) }); ok && e[5] != "" {
		return e[5]
	}
	return "/"
}
