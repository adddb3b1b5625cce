package dockerfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	mode "github.com/tonistiigi/dchapes-mode"

	"github.com/gantry-build/gantry/pkg/layer"
	"github.com/gantry-build/gantry/pkg/rootfs"
)

// source is one path a COPY source names, found in its root.
type source struct {
	path string // on the host, every symlink resolved inside the root
	name string // the name it was found under (a link's, not its target's)
}

// add is the source as a layer takes it. Its path has no link left (every
// one was resolved inside the root), so it is not followed: a link found
// there now was put in its place since, and is copied as a link, never to
// what it leads to on the host.
func (m source) add() layer.Add { return layer.Add{Src: m.path, Name: m.name, NoFollow: true} }

// inRoot is p inside root with every symlink resolved inside root, as
// BuildKit's fs.RootPath: a link to / or to ../.. leads to root, never to
// the host. Missing components are taken as they are.
func inRoot(root, p string) (string, error) {
	return securejoin.SecureJoin(root, path.Clean("/"+p))
}

// sources finds what src names in root, as BuildKit's copy with
// FollowSymlinks and AllowEmptyWildcard: each match resolved inside root;
// a wildcard that matches nothing gives nothing, a plain path that is
// missing (or left out by .dockerignore) is an error.
func sources(root, src string, o layer.Options) ([]source, error) {
	clean := path.Clean("/" + src)
	if !hasWildcard(clean) {
		p, err := inRoot(root, clean)
		if err != nil {
			return nil, err
		}
		if _, err := os.Lstat(p); err != nil || layer.Excluded(o, filepath.Join(root, clean)) || layer.Excluded(o, p) {
			return nil, fmt.Errorf("%s: not found in the build context", src)
		}
		return []source{{path: p, name: path.Base(clean)}}, nil
	}
	// Components before the first wildcard are a plain path; each later
	// one is matched against the names of the folders matched so far.
	parts := strings.Split(strings.TrimPrefix(clean, "/"), "/")
	dirs := []string{"/"}
	for i, part := range parts {
		last := i == len(parts)-1
		var next []string
		for _, d := range dirs {
			if !hasWildcard(part) {
				next = append(next, path.Join(d, part))
				continue
			}
			real, err := inRoot(root, d)
			if err != nil {
				return nil, err
			}
			names, err := readNames(real)
			if err != nil {
				continue
			}
			for _, n := range names {
				ok, err := path.Match(part, n)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", src, err)
				}
				if ok {
					next = append(next, path.Join(d, n))
				}
			}
		}
		if !last {
			// Only folders lead on.
			kept := next[:0]
			for _, n := range next {
				if p, err := inRoot(root, n); err == nil && isDir(p) {
					kept = append(kept, n)
				}
			}
			next = kept
		}
		dirs = next
	}
	sort.Strings(dirs)
	var out []source
	for _, m := range dirs {
		p, err := inRoot(root, m)
		if err != nil {
			return nil, err
		}
		if _, err := os.Lstat(p); err != nil || layer.Excluded(o, filepath.Join(root, m)) || layer.Excluded(o, p) {
			continue
		}
		out = append(out, source{path: p, name: path.Base(m)})
	}
	return out, nil
}

func hasWildcard(p string) bool { return strings.ContainsAny(p, "*?[") }

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

func readNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Readdirnames(-1)
}

// parseChmod reads --chmod as BuildKit does: an octal mode up to 07777
// (setuid, setgid and sticky included), or a symbolic one (u+x,g-w) that
// changes each file's own mode.
func parseChmod(s string) (*fs.FileMode, func(fs.FileMode) fs.FileMode, error) {
	bad := fmt.Errorf("invalid chmod parameter: '%v'. it should be octal string and between 0 and 07777", s)
	if n, err := strconv.ParseUint(s, 8, 32); err == nil {
		if n > 0o7777 {
			return nil, nil, bad
		}
		m := rootfs.ModeFromUnix(int64(n))
		return &m, nil, nil
	}
	set, err := mode.Parse(s)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) {
			return nil, nil, bad
		}
		return nil, nil, fmt.Errorf("invalid --chmod %q: %w", s, err)
	}
	return nil, set.Apply, nil
}
