// Package layer turns local files into deterministic image layers: the same
// files give the same tar bytes on any machine, whatever their mtimes,
// owners on the host or directory read order. Entries are sorted, times are
// fixed, owners are set, not read.
package layer

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gantry-build/gantry/internal/treewalk"
	"github.com/moby/patternmatcher"
)

// Add is one --add SRC:DEST.
type Add struct {
	Src  string // file or folder on the host
	Dest string // path in the image; a trailing / means "into this directory"
	// Name is the name a file source takes in a DEST directory: the name
	// the user gave when Src is where a symlink led; default Src's base.
	Name string
	// NoFollow takes Src as it is: a link is added as a link. Without it,
	// a link the user names is followed (COPY's source, --add's); with it,
	// an entry found inside a folder (what a COPY --parents pattern
	// matched) is never followed out of its folder.
	NoFollow bool
	// Below, when set, is Src's slash-separated path below the folder
	// Options.Excludes are relative to (what a COPY --parents pattern
	// matched, below its base), and Src itself may be left out by them.
	// Unset, they are relative to Src, which they never leave out: as
	// BuildKit's copy, they name what lies below each source.
	Below string
}

// ParseAdd reads SRC:DEST. The last colon splits, so Windows-free paths with
// colons in SRC still work when DEST has none.
func ParseAdd(s string) (Add, error) {
	i := strings.LastIndex(s, ":")
	if i <= 0 || i == len(s)-1 {
		return Add{}, fmt.Errorf("invalid --add %q: use SRC:DEST, e.g. ./dist:/app/", s)
	}
	return Add{Src: s[:i], Dest: s[i+1:]}, nil
}

// Options set what the host does not decide.
type Options struct {
	UID, GID int          // owner of every entry (--chown); default 0:0
	Mode     *fs.FileMode // --chmod for every file and directory added
	Excludes []string     // --exclude patterns, Docker's .dockerignore syntax, relative to each source folder
	// ContextRoot, when set, is a Dockerfile build's context: Ignore (its
	// .dockerignore, nil for none) matches paths relative to it, and no
	// source folder's own .dockerignore counts. Unset (flag builds), each
	// source folder's .dockerignore applies to that folder.
	ContextRoot string
	Ignore      *patternmatcher.PatternMatcher
	Time        time.Time // mtime of every entry (SOURCE_DATE_EPOCH, or the epoch)
	Workdir     string    // where a relative DEST starts; "" makes relative DESTs an error
	// KeepOwners keeps the owners the files have on the host instead of
	// UID:GID (COPY --from a stage, import of a directory).
	KeepOwners bool
	// Devices keeps device nodes and fifos, as a root filesystem has them
	// (import of a directory); otherwise they are an error.
	Devices bool
	// Xattrs keeps the files' extended attributes (security.capability,
	// user.*), as a root filesystem has them (import of a directory);
	// otherwise a layer holds none, as before.
	Xattrs bool
	// Chmod, when set, gives each file's and copied directory's mode from
	// its own (a symbolic --chmod such as u+x); Mode wins when both are set.
	Chmod func(fs.FileMode) fs.FileMode
	// Lower, when set, is the unpacked root filesystem the layer goes on
	// (the stage so far). As BuildKit's copy: directories it has keep their
	// mode and owner where the layer only passes through them (the parents
	// of a destination, an existing destination folder), and a file cannot
	// replace a directory there nor a directory a file.
	Lower string
}

// Collect lists the entries the adds make, sorted by name; a later add
// replaces what an earlier one put at the same path.
func Collect(adds []Add, o Options) ([]Entry, error) {
	listedAt := time.Now()
	var out entrySet
	// The context root's own links are resolved once for all its sources
	// (stillInRoot).
	var realRoot string
	if o.ContextRoot != "" {
		realRoot, _ = linkFree(o.ContextRoot) // "": no root, no source below it
	}
	for _, a := range adds {
		if err := collectOne(a, o, realRoot, &out); err != nil {
			return nil, err
		}
	}
	// A folder's entries come sorted: most lists need no sort, and the
	// entries (large structs) are not moved to find that out.
	entries := out.list
	less := func(a, b Entry) int { return strings.Compare(a.Name, b.Name) }
	if !slices.IsSortedFunc(entries, less) {
		slices.SortFunc(entries, less)
	}
	if o.Lower != "" {
		if err := onLower(entries, o.Lower); err != nil {
			return nil, err
		}
	}
	linkHardLinks(entries)
	markRacy(entries, listedAt)
	return entries, nil
}

// racyWindow is how recent a file's last change may be, when it is listed,
// for a later change to be told by its stat: file times move by the
// kernel's clock tick (a few milliseconds) on local Linux file systems, by
// 1-2 s on FAT, ext3 and some network ones. A change can come after the
// file was read and still leave size, times and inode as they were listed.
var racyWindow = 2 * time.Second

// markRacy marks the files whose mtime or ctime is within racyWindow of
// listedAt (or later): their stat does not vouch for their content.
func markRacy(entries []Entry, listedAt time.Time) {
	since := listedAt.Add(-racyWindow).UnixNano()
	for i := range entries {
		e := &entries[i]
		e.racy = hasContent(*e) && (e.stat.Mtime >= since || e.stat.Ctime >= since)
	}
}

// collectOne adds a's entries to out; realRoot is o.ContextRoot with its
// links resolved.
func collectOne(a Add, o Options, realRoot string, out *entrySet) error {
	dest := a.Dest
	if !path.IsAbs(dest) {
		if o.Workdir == "" {
			return fmt.Errorf("--add %s:%s: DEST must be an absolute path when the image has no WORKDIR", a.Src, a.Dest)
		}
		dest = path.Join(o.Workdir, dest) + trailingSlash(dest)
	}
	// The SRC the user names is followed if it is a link, as COPY does;
	// links inside a folder are stored as links, never followed.
	stat := os.Stat
	if a.NoFollow {
		stat = os.Lstat
	}
	fi, err := stat(a.Src)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("--add %s:%s: %s does not exist", a.Src, a.Dest, a.Src)
		}
		return fmt.Errorf("--add %s: %w", a.Src, err)
	}
	if a.NoFollow && realRoot != "" {
		if err := stillInRoot(o.ContextRoot, realRoot, a.Src); err != nil {
			return err
		}
	}
	match, err := excludesOf(a, o, fi.IsDir())
	if err != nil {
		return err
	}
	if a.Below != "" {
		if skip, whole := excluded(match, a.Below); skip && (whole || !fi.IsDir()) {
			return nil
		}
	}
	if !fi.IsDir() {
		target := strings.TrimPrefix(path.Clean(dest), "/")
		if strings.HasSuffix(dest, "/") || target == "" {
			name := a.Name
			if name == "" {
				name = filepath.Base(a.Src)
			}
			target = path.Join(target, name)
		}
		p := a.Src
		if fi.Mode().IsRegular() {
			if p, err = linkFree(p); err != nil {
				return fmt.Errorf("--add %s: %w", a.Src, err)
			}
		}
		addParents(out, target, o)
		e, err := entryOf(fi, target, p, o)
		if err != nil {
			return fmt.Errorf("--add %s: %w", a.Src, err)
		}
		out.put(e)
		return nil
	}
	// The destination folder is made as its parents are (BuildKit's
	// MkdirAll), not copied from the source: a source folder's own mode and
	// owner are not the destination's.
	root := strings.TrimPrefix(path.Clean(dest), "/")
	if root != "" {
		addParents(out, root, o)
		if !out.has(root) {
			out.put(madeDir(root, o))
		}
	}
	// The tree is listed on all cores, and folders left out whole are not
	// read. The matchers compile their patterns on first use: one at a time.
	var matching sync.Mutex
	isExcluded := func(rel string) (skip, whole bool) {
		if match == nil && o.Ignore == nil {
			return false, false
		}
		matching.Lock()
		defer matching.Unlock()
		skip, whole = excluded(match, under(a.Below, rel))
		if !skip && o.Ignore != nil {
			skip, whole = excluded(o.Ignore, contextRel(o.ContextRoot, filepath.Join(a.Src, filepath.FromSlash(rel))))
		}
		return skip, whole
	}
	src, err := linkFree(a.Src)
	if err != nil {
		return fmt.Errorf("--add %s: %w", a.Src, err)
	}
	// Folders left out whose children an exception brings back are copied
	// too, with their own mode (leftOut, by image name; rare).
	var leftOutMu sync.Mutex
	leftOut := map[string]Entry{}
	// Each entry is made where its folder is read, with what it needs
	// beyond its stat (links, xattrs, owners kept in an xattr), and goes
	// straight to the end of the set's list.
	base := len(out.list)
	out.list, err = treewalk.Map(out.list, src, func(rel string) bool {
		skip, whole := isExcluded(rel)
		return !skip || !whole
	}, func(l treewalk.Entry) (Entry, bool, error) {
		if skip, whole := isExcluded(l.Rel); skip {
			if l.Info.IsDir() && !whole {
				name := under(root, l.Rel)
				e := withXattrs(withOwner(dirEntry(name, l.Info.Mode(), o), l.Info, l.Path), l.Path, o)
				leftOutMu.Lock()
				leftOut[name] = e
				leftOutMu.Unlock()
			}
			return Entry{}, false, nil
		}
		e, err := entryOf(l.Info, under(root, l.Rel), l.Path, o)
		return e, err == nil, err
	})
	if err != nil {
		out.list = out.list[:base]
		return fmt.Errorf("--add %s: %w", a.Src, err)
	}
	back := broughtBack(leftOut, out.list[base:]) // before merge moves them
	out.merge(base)
	for _, e := range back {
		out.put(e)
	}
	return nil
}

// broughtBack takes from leftOut the folders that hold one of the entries
// kept: a "!" exception brought part of them back.
func broughtBack(leftOut map[string]Entry, kept []Entry) []Entry {
	var back []Entry
	for i := 0; i < len(kept) && len(leftOut) > 0; i++ {
		for dir := path.Dir(kept[i].Name); ; dir = path.Dir(dir) {
			e, ok := leftOut[dir]
			if !ok {
				break
			}
			back = append(back, e)
			delete(leftOut, dir)
		}
	}
	return back
}

// linkFree is p with every link on it resolved: the path a file's content
// is read from (Entry.Source) has none, so that reading it can refuse any
// link (openListed) without refusing the links of the user's own paths.
// Windows paths are kept as they are (openListed follows links there).
func linkFree(p string) (string, error) {
	if runtime.GOOS == "windows" {
		return filepath.Clean(p), nil
	}
	return filepath.EvalSymlinks(p)
}

// stillInRoot fails when a link now stands on the path of p, a source
// resolved inside root (realRoot: its links resolved) with every link
// followed there (a COPY's): one put there since would lead the listing
// out of the context.
func stillInRoot(root, realRoot, p string) error {
	dir := filepath.Dir(p)
	rel, err := filepath.Rel(root, dir)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return nil // not below root: nothing to hold it to
	}
	realDir, err := linkFree(dir)
	if err != nil {
		return err
	}
	if realDir != filepath.Join(realRoot, rel) {
		return fmt.Errorf("%s changed while the build read it (a link is now on its path); build again when it is stable", p)
	}
	return nil
}

func trailingSlash(s string) string {
	if strings.HasSuffix(s, "/") {
		return "/"
	}
	return ""
}
