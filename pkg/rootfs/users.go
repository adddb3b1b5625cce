package rootfs

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
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
	if n, err := strconv.Atoi(user); err == nil {
		uid, numeric = n, true
		if e, ok := FindEntry(root, "etc/passwd", func(f []string) bool { return len(f) > 3 && f[2] == user }); ok {
			gid, _ = strconv.Atoi(e[3])
		}
	} else {
		e, ok := FindEntry(root, "etc/passwd", func(f []string) bool { return f[0] == user })
		if !ok || len(e) < 4 {
			return 0, 0, fmt.Errorf("user %q is not in the image's /etc/passwd", user)
		}
		uid, _ = strconv.Atoi(e[2])
		gid, _ = strconv.Atoi(e[3])
	}
	if !hasGroup {
		if chown && numeric {
			return uid, uid, nil
		}
		return uid, gid, nil
	}
	if n, err := strconv.Atoi(group); err == nil {
		return uid, n, nil
	}
	e, ok := FindEntry(root, "etc/group", func(f []string) bool { return f[0] == group })
	if !ok || len(e) < 3 {
		return 0, 0, fmt.Errorf("group %q is not in the image's /etc/group", group)
	}
	gid, _ = strconv.Atoi(e[2])
	return uid, gid, nil
}

// FindEntry returns the first line of an /etc/passwd-style file under root
// whose colon-separated fields match.
func FindEntry(root, file string, match func([]string) bool) ([]string, bool) {
	f, err := os.Open(filepath.Join(root, file))
	if err != nil {
		return nil, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), ":")
		if len(fields) > 0 && match(fields) {
			return fields, true
		}
	}
	return nil, false
}

// HomeDir is uid's home directory in the image's /etc/passwd under root, or
// "/" as container runtimes default it.
func HomeDir(root string, uid int) string {
	if e, ok := FindEntry(root, "etc/passwd", func(f []string) bool { return len(f) > 5 && f[2] == strconv.Itoa(uid) }); ok && e[5] != "" {
		return e[5]
	}
	return "/"
}
