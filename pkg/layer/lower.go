package layer

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
)

// onLower fits entries (sorted by name) onto the root filesystem lower as
// BuildKit's copy does: a directory the layer only passes through (a
// destination's parent, an existing destination folder) keeps the mode and
// owner it has there; a file cannot replace a directory, nor a directory a
// file or link. Paths of lower are read component by component, never
// through one of its links (those point into the image, not the host).
func onLower(entries []Entry, lower string) error {
	seen := map[string]fs.FileInfo{} // name → what lower has (nil: nothing, or behind a non-directory)
	var info func(name string) fs.FileInfo
	info = func(name string) fs.FileInfo {
		if fi, ok := seen[name]; ok {
			return fi
		}
		var fi fs.FileInfo
		if dir := path.Dir(name); dir == "." || isDir(info(dir)) {
			fi, _ = os.Lstat(filepath.Join(lower, filepath.FromSlash(name)))
		}
		seen[name] = fi
		return fi
	}
	for i := range entries {
		e := &entries[i]
		fi := info(e.Name)
		if fi == nil {
			continue
		}
		switch {
		case e.Mode.IsDir() && !fi.IsDir():
			return fmt.Errorf("cannot copy to non-directory: /%s", e.Name)
		case !e.Mode.IsDir() && fi.IsDir():
			return fmt.Errorf("cannot replace to directory /%s with file", e.Name)
		case e.Mode.IsDir() && e.through:
			kept := withOwner(Entry{Name: e.Name, Mode: fs.ModeDir | fi.Mode()&permBits}, fi, filepath.Join(lower, filepath.FromSlash(e.Name)))
			kept.fixedOwner, kept.through = true, true
			*e = kept
		}
	}
	return nil
}

func isDir(fi fs.FileInfo) bool { return fi != nil && fi.IsDir() }
