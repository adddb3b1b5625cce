//go:build linux

package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"
)

// tree is the sandbox's root before the switch. A mount target resolves
// in it as the command will see it (links in the image, absolute ones too,
// stay inside), and is then walked one name at a time from a handle on the
// root, following no link: nothing is created or mounted outside. What the
// sandbox creates for its mounts is recorded, for Run to remove after the
// step.
type tree struct {
	root    string
	created []string // relative to root, parents first
}

// resolve turns an image path into a clean path relative to the root.
func (t *tree) resolve(p string) (string, error) {
	full, err := securejoin.SecureJoin(t.root, p)
	if err != nil {
		return "", fmt.Errorf("/%s: %w", strings.TrimPrefix(p, "/"), err)
	}
	rel, err := filepath.Rel(t.root, full)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", fmt.Errorf("/%s resolves outside the root", strings.TrimPrefix(p, "/"))
	}
	return rel, nil
}

// target is a resolved mount target: rel is its path in the root, fd an
// O_PATH handle on it, mounted on through /proc/self/fd.
type target struct {
	rel string
	fd  int
}

func (t target) path() string { return "/proc/self/fd/" + strconv.Itoa(t.fd) }
func (t target) close()       { unix.Close(t.fd) }

// dir makes the folder at image path p and the missing ones above it.
func (t *tree) dir(p string) (target, error) {
	rel, err := t.resolve(p)
	if err != nil {
		return target{}, err
	}
	fd, err := t.walk(rel)
	if err != nil {
		return target{}, fmt.Errorf("/%s: %w", rel, err)
	}
	return target{rel, fd}, nil
}

// file makes an empty file at image path p where there is none, for a
// file to be bound over it.
func (t *tree) file(p string) (target, error) {
	rel, err := t.resolve(p)
	if err != nil {
		return target{}, err
	}
	if rel == "." {
		return target{}, errors.New("/ is a folder")
	}
	parent, err := t.walk(filepath.Dir(rel))
	if err != nil {
		return target{}, fmt.Errorf("/%s: %w", rel, err)
	}
	defer unix.Close(parent)
	name := filepath.Base(rel)
	fd, err := unix.Openat(parent, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		var f int
		if f, err = unix.Openat(parent, name, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644); err == nil {
			unix.Close(f)
			t.created = append(t.created, rel)
			fd, err = unix.Openat(parent, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		}
	}
	if err != nil {
		return target{}, fmt.Errorf("/%s: %w", rel, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT == unix.S_IFLNK || st.Mode&unix.S_IFMT == unix.S_IFDIR {
		unix.Close(fd)
		return target{}, fmt.Errorf("/%s: not a file to mount a file on", rel)
	}
	return target{rel, fd}, nil
}

// walk opens the folder rel one name at a time, making what is missing
// and following no link; the handle is O_PATH.
func (t *tree) walk(rel string) (int, error) {
	fd, err := unix.Open(t.root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	if rel == "." {
		return fd, nil
	}
	done := ""
	for _, name := range strings.Split(rel, "/") {
		done = filepath.Join(done, name)
		next, err := unix.Openat(fd, name, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if errors.Is(err, unix.ENOENT) {
			if err = unix.Mkdirat(fd, name, 0o755); err == nil {
				t.created = append(t.created, done)
				next, err = unix.Openat(fd, name, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			}
		}
		unix.Close(fd)
		if err != nil {
			return -1, err
		}
		fd = next
	}
	return fd, nil
}

// removeCreated removes from dir (the upper directory) the mountpoints the
// sandbox made, deepest first, while they are still what it made: an empty
// folder or an empty file, reached without following a link. A step that
// swapped a folder on the way for a link to the host's folders (BuildKit's
// CVE-2024-23652) leaves them be: nothing outside dir is touched.
func removeCreated(dir string, created []string) {
	root, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	defer unix.Close(root)
	for i := len(created) - 1; i >= 0; i-- {
		rel := filepath.Clean(created[i])
		parent, err := openBeneath(root, filepath.Dir(rel))
		if err != nil {
			continue
		}
		name := filepath.Base(rel)
		var st unix.Stat_t
		if unix.Fstatat(parent, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil {
			switch {
			case st.Mode&unix.S_IFMT == unix.S_IFDIR:
				unix.Unlinkat(parent, name, unix.AT_REMOVEDIR) // only if empty
			case st.Mode&unix.S_IFMT == unix.S_IFREG && st.Size == 0:
				unix.Unlinkat(parent, name, 0)
			}
		}
		unix.Close(parent)
	}
}

// openBeneath opens the folder rel under the folder root, following no
// link and not climbing out.
func openBeneath(root int, rel string) (int, error) {
	if rel == "." {
		return unix.Dup(root)
	}
	fd, err := unix.Openat2(root, rel, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_XDEV,
	})
	if !errors.Is(err, unix.ENOSYS) {
		return fd, err
	}
	// Before Linux 5.6: one name at a time.
	fd, err = unix.Dup(root)
	for _, name := range strings.Split(rel, "/") {
		if err != nil {
			return -1, err
		}
		if name == ".." || name == "" {
			unix.Close(fd)
			return -1, os.ErrInvalid
		}
		next, e := unix.Openat(fd, name, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		unix.Close(fd)
		fd, err = next, e
	}
	return fd, err
}
