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
	"sort"
	"strings"
	"time"

	"github.com/gantry-build/gantry/internal/parallel"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// Add is one --add SRC:DEST.
type Add struct {
	Src  string // file or folder on the host
	Dest string // path in the image; a trailing / means "into this directory"
	// Name is the name a file source takes in a DEST directory: the name
	// the user gave when Src is where a symlink led; default Src's base.
	Name string
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

// Entry is one file, directory or link of the layer.
type Entry struct {
	Name     string      // path in the image, without the leading /
	Mode     fs.FileMode // type and permission bits
	Size     int64
	Link     string // symlink target, or the Name of the first hard link
	HardLink bool
	Source   string            // host path of a regular file's content
	modTime  time.Time         // host mtime when collected, to detect changes while reading
	stat     fileStat          // host identity of Source, for the hash cache
	uid, gid int               // owner on the host, used with KeepOwners
	rdev     uint64            // device number of a device node
	xattrs   map[string]string // with Options.Xattrs
	// fixedOwner: uid:gid is the entry's owner whatever the options (a
	// directory of Lower the layer passes through).
	fixedOwner bool
	// through: a directory the layer makes or passes through (a parent
	// of a destination, a destination folder), not one copied from a source.
	through bool
}

// owner is the entry's owner in the image.
func (e Entry) owner(o Options) (uid, gid int) {
	if e.fixedOwner || o.KeepOwners {
		return e.uid, e.gid
	}
	return o.UID, o.GID
}

// Collect lists the entries the adds make, sorted by name; a later add
// replaces what an earlier one put at the same path.
func Collect(adds []Add, o Options) ([]Entry, error) {
	byName := map[string]Entry{}
	for _, a := range adds {
		if err := collectOne(a, o, byName); err != nil {
			return nil, err
		}
	}
	entries := make([]Entry, 0, len(byName))
	for _, e := range byName {
		entries = append(entries, e)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name < entries[j].Name })
	if o.Lower != "" {
		if err := onLower(entries, o.Lower); err != nil {
			return nil, err
		}
	}
	linkHardLinks(entries)
	return entries, nil
}

func collectOne(a Add, o Options, out map[string]Entry) error {
	dest := a.Dest
	if !path.IsAbs(dest) {
		if o.Workdir == "" {
			return fmt.Errorf("--add %s:%s: DEST must be an absolute path when the image has no WORKDIR", a.Src, a.Dest)
		}
		dest = path.Join(o.Workdir, dest) + trailingSlash(dest)
	}
	// The SRC the user names is followed if it is a link, as COPY does;
	// links inside a folder are stored as links, never followed.
	fi, err := os.Stat(a.Src)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("--add %s:%s: %s does not exist", a.Src, a.Dest, a.Src)
		}
		return fmt.Errorf("--add %s: %w", a.Src, err)
	}
	if !fi.IsDir() {
		// In a Dockerfile build, --exclude also names file sources (by
		// name), as a COPY of several files or a wildcard gives them.
		if o.ContextRoot != "" && len(o.Excludes) > 0 {
			match, err := matcher("", o.Excludes)
			if err != nil {
				return err
			}
			if skip, _ := match.MatchesOrParentMatches(filepath.Base(a.Src)); skip {
				return nil
			}
		}
		target := strings.TrimPrefix(path.Clean(dest), "/")
		if strings.HasSuffix(dest, "/") || target == "" {
			name := a.Name
			if name == "" {
				name = filepath.Base(a.Src)
			}
			target = path.Join(target, name)
		}
		addParents(out, target, o)
		out[target] = withXattrs(fileEntry(target, a.Src, fi, o), a.Src, o)
		return nil
	}
	// The destination folder is made as its parents are (BuildKit's
	// MkdirAll), not copied from the source: a source folder's own mode and
	// owner are not the destination's.
	root := strings.TrimPrefix(path.Clean(dest), "/")
	if root != "" {
		addParents(out, root, o)
		if _, ok := out[root]; !ok {
			out[root] = madeDir(root, o)
		}
	}
	var match *patternmatcher.PatternMatcher
	if o.ContextRoot != "" {
		match, err = matcher("", o.Excludes)
	} else {
		match, err = matcher(a.Src, o.Excludes)
	}
	if err != nil {
		return err
	}
	// Folders left out whose children an exception brings back are copied
	// too, with their own mode, when the first such child is.
	leftOut := map[string]Entry{}
	bringBack := func(name string) {
		for dir := path.Dir(name); ; dir = path.Dir(dir) {
			e, ok := leftOut[dir]
			if !ok {
				return
			}
			out[dir] = e
			delete(leftOut, dir)
		}
	}
	// Regular files, most of a tree, are stat'ed after the walk on all
	// cores: the walk itself only reads folders.
	var files []pendingFile
	err = filepath.WalkDir(a.Src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("--add %s: %w", a.Src, err)
		}
		rel, _ := filepath.Rel(a.Src, p)
		if rel == "." {
			return nil
		}
		rel = filepath.ToSlash(rel)
		skip, whole := excluded(match, rel)
		if !skip && o.Ignore != nil {
			skip, whole = excluded(o.Ignore, contextRel(o.ContextRoot, p))
		}
		name := path.Join(root, rel)
		if skip {
			if d.IsDir() && whole {
				return filepath.SkipDir
			}
			if d.IsDir() {
				if info, err := d.Info(); err == nil {
					leftOut[name] = withXattrs(withOwner(dirEntry(name, info.Mode(), o), info, p), p, o)
				}
			}
			return nil
		}
		bringBack(name)
		if d.Type().IsRegular() {
			files = append(files, pendingFile{name: name, path: p, d: d})
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return fmt.Errorf("--add %s: %w", a.Src, err)
		}
		switch {
		case info.IsDir():
			out[name] = withOwner(dirEntry(name, info.Mode(), o), info, p)
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return fmt.Errorf("--add %s: %w", a.Src, err)
			}
			out[name] = withOwner(Entry{Name: name, Mode: fs.ModeSymlink | 0o777, Link: target}, info, p)
		case info.Mode().IsRegular():
			out[name] = fileEntry(name, p, info, o)
		case o.Devices && info.Mode()&(fs.ModeDevice|fs.ModeNamedPipe) != 0:
			e := withOwner(Entry{Name: name, Mode: info.Mode()}, info, p)
			var err error
			if e.rdev, err = hostRdev(info, p); err != nil {
				return fmt.Errorf("--add %s: %w", a.Src, err)
			}
			out[name] = e
		default:
			return fmt.Errorf("--add %s: %s is a %s, which a layer built from files cannot hold", a.Src, p, info.Mode().Type())
		}
		out[name] = withXattrs(out[name], p, o)
		return nil
	})
	if err != nil {
		return err
	}
	entries, err := statFiles(files, o)
	if err != nil {
		return fmt.Errorf("--add %s: %w", a.Src, err)
	}
	for _, e := range entries {
		out[e.Name] = e
	}
	return nil
}

// pendingFile is a regular file the walk found, not yet stat'ed.
type pendingFile struct {
	name, path string
	d          fs.DirEntry
}

// statFiles makes the entries of files, stat'ing them on all cores.
func statFiles(files []pendingFile, o Options) ([]Entry, error) {
	out := make([]Entry, len(files))
	err := parallel.Each(len(files), func(i int) error {
		info, err := files[i].d.Info()
		if err != nil {
			return err
		}
		if !info.Mode().IsRegular() { // replaced since the walk
			return fmt.Errorf("%s changed while it was read", files[i].path)
		}
		out[i] = withXattrs(fileEntry(files[i].name, files[i].path, info, o), files[i].path, o)
		return nil
	})
	return out, err
}

func trailingSlash(s string) string {
	if strings.HasSuffix(s, "/") {
		return "/"
	}
	return ""
}

// excluded reports whether pm leaves rel out, and whether everything below
// it goes too (no "!" exception could bring a part back).
func excluded(pm *patternmatcher.PatternMatcher, rel string) (skip, whole bool) {
	if pm == nil {
		return false, false
	}
	skip, _ = pm.MatchesOrParentMatches(rel)
	return skip, !pm.Exclusions()
}

// contextRel is p relative to the build context, slash-separated.
func contextRel(root, p string) string {
	rel, err := filepath.Rel(root, p)
	if err != nil {
		return p
	}
	return filepath.ToSlash(rel)
}

// Excluded reports whether a source given by path p (a file, or a folder
// as a whole) is left out of the context by its .dockerignore.
func Excluded(o Options, p string) bool {
	if o.Ignore == nil || o.ContextRoot == "" {
		return false
	}
	rel := contextRel(o.ContextRoot, p)
	if rel == "." {
		return false // the context itself is never left out, only what it holds
	}
	skip, _ := o.Ignore.MatchesOrParentMatches(rel)
	return skip
}

// ReadIgnoreFile reads a build context's .dockerignore; a missing file is
// no patterns (nil).
func ReadIgnoreFile(path string) (*patternmatcher.PatternMatcher, error) {
	patterns, err := readPatterns(path)
	if err != nil || len(patterns) == 0 {
		return nil, err
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return pm, nil
}

// matcher combines --exclude with the .dockerignore of a source folder
// (none when dir is "": a Dockerfile build's is the context's, in Options).
func matcher(dir string, excludes []string) (*patternmatcher.PatternMatcher, error) {
	patterns := append([]string{}, excludes...)
	if dir != "" {
		own, err := readPatterns(filepath.Join(dir, ".dockerignore"))
		if err != nil {
			return nil, err
		}
		patterns = append(patterns, own...)
	}
	if len(patterns) == 0 {
		return nil, nil
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		return nil, fmt.Errorf("invalid exclude pattern: %w", err)
	}
	return pm, nil
}

// readPatterns reads a .dockerignore; a missing file is no patterns.
func readPatterns(path string) ([]string, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	patterns, err := ignorefile.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return patterns, nil
}

func addParents(out map[string]Entry, name string, o Options) {
	for dir := path.Dir(name); dir != "." && dir != "/"; dir = path.Dir(dir) {
		if _, ok := out[dir]; !ok {
			out[dir] = madeDir(dir, o)
		}
	}
}

// madeDir is a directory the layer makes to hold what it adds: 0755, or a
// numeric --chmod less setuid and setgid (which mkdir(2) ignores), owned by
// --chown (root with KeepOwners), as BuildKit's copy makes them.
func madeDir(name string, o Options) Entry {
	perm := fs.FileMode(0o755)
	if o.Mode != nil {
		perm = *o.Mode & (fs.ModePerm | fs.ModeSticky)
	}
	return Entry{Name: name, Mode: fs.ModeDir | perm, through: true}
}

// permBits are the mode bits a layer keeps.
const permBits = fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky

func chmod(mode fs.FileMode, o Options) fs.FileMode {
	perm := mode & permBits
	switch {
	case o.Mode != nil:
		perm = *o.Mode
	case o.Chmod != nil:
		perm = o.Chmod(mode) & permBits
	}
	return perm
}

func dirEntry(name string, mode fs.FileMode, o Options) Entry {
	return Entry{Name: name, Mode: fs.ModeDir | chmod(hostMode(mode)|fs.ModeDir, o)}
}

func fileEntry(name, src string, fi fs.FileInfo, o Options) Entry {
	perm := chmod(hostMode(fi.Mode()), o)
	return withOwner(Entry{Name: name, Mode: perm, Size: fi.Size(), Source: src, modTime: fi.ModTime(), Link: inodeKey(fi), stat: statOf(fi)}, fi, src)
}

// withXattrs gives e the xattrs of the host file at path when o keeps
// them.
func withXattrs(e Entry, path string, o Options) Entry {
	if o.Xattrs {
		e.xattrs = hostXattrs(path)
	}
	return e
}

// ImageOwner is the owner the file at path (fi its Lstat) has in the
// image, in an unpacked tree (see withOwner).
func ImageOwner(fi fs.FileInfo, path string) (uid, gid int) {
	e := withOwner(Entry{}, fi, path)
	return e.uid, e.gid
}

func linkHardLinks(entries []Entry) {
	first := map[string]string{}
	for i := range entries {
		e := &entries[i]
		if !e.Mode.IsRegular() || !strings.HasPrefix(e.Link, "inode:") {
			continue
		}
		if name, ok := first[e.Link]; ok {
			e.Link, e.HardLink, e.Size = name, true, 0
			continue
		}
		first[e.Link] = e.Name
		e.Link = ""
	}
}
