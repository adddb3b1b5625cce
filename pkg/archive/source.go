package archive

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
)

// source is the files of an archive by slash-separated name relative to its
// root: a tar file indexed once, or a directory.
type source interface {
	// open follows links (staying inside the archive) to a regular file.
	open(name string) (*file, error)
	// topDirs lists the directories at the archive root, sorted.
	topDirs() []string
	// complete is false when a tar ended without its end-of-archive marker,
	// so a missing file may be the tail of a truncated archive.
	complete() bool
}

// file is one regular file of an archive. Name is where links led.
type file struct {
	*io.SectionReader
	name   string
	closer io.Closer
}

func (f *file) Close() error {
	if f.closer == nil {
		return nil
	}
	return f.closer.Close()
}

// errEscapes marks a name or link that leads out of the archive; such an
// entry is refused rather than clamped, since only a crafted archive has one.
var errEscapes = errors.New("leads out of the archive")

// cleanName turns an entry name or a name from an archive's metadata into the
// form the index uses: no leading "./" or "/", no "..", no trailing slash.
func cleanName(name string) (string, error) {
	n := path.Clean("/" + strings.TrimLeft(name, "/"))
	raw := path.Clean(strings.TrimLeft(name, "/"))
	if raw == ".." || strings.HasPrefix(raw, "../") {
		return "", fmt.Errorf("%q %w", name, errEscapes)
	}
	return strings.TrimPrefix(n, "/"), nil
}

// joinLink resolves a symlink target relative to the directory holding the
// link; an absolute target counts from the archive root, as Docker's
// FollowSymlinkInScope does.
func joinLink(dir, target string) (string, bool) {
	var p string
	if strings.HasPrefix(target, "/") {
		p = path.Clean(strings.TrimLeft(target, "/"))
	} else {
		p = path.Clean(path.Join(dir, target))
		if dir == "" {
			p = path.Clean(target)
		}
	}
	if p == ".." || strings.HasPrefix(p, "../") {
		return "", false
	}
	if p == "." {
		p = ""
	}
	return p, true
}

func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
