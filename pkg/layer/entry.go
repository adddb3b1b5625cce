package layer

import (
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// Entry is one file, directory or link of the layer. A tree's entries are
// many (one per file) and listed on every build: the fields are ordered so
// that none leaves padding (TestEntryStaysSmall).
type Entry struct {
	Name     string // path in the image, without the leading /
	Link     string // symlink target, or the Name of the first hard link
	Source   string // host path of a regular file's content
	Size     int64
	stat     fileStat          // host identity of Source: the hash cache's and the read's check
	rdev     uint64            // device number of a device node
	xattrs   map[string]string // with Options.Xattrs
	uid      int               // owner on the host, used with KeepOwners
	gid      int
	Mode     fs.FileMode // type and permission bits
	HardLink bool
	// racy: the file changed so shortly before it was listed that a change
	// in the same timestamp tick would keep its stat (git's "racily clean"
	// files): its hash is not trusted from that stat later (racyWindow).
	racy bool
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

// entryOf is the layer entry name of the file at p, info its Lstat.
func entryOf(info fs.FileInfo, name, p string, o Options) (Entry, error) {
	var e Entry
	switch {
	case info.IsDir():
		e = withOwner(dirEntry(name, info.Mode(), o), info, p)
	case info.Mode()&fs.ModeSymlink != 0:
		target, err := os.Readlink(p)
		if err != nil {
			return Entry{}, err
		}
		e = withOwner(Entry{Name: name, Mode: fs.ModeSymlink | 0o777, Link: target}, info, p)
	case info.Mode().IsRegular():
		e = fileEntry(name, p, info, o)
	case o.Devices && info.Mode()&(fs.ModeDevice|fs.ModeNamedPipe) != 0:
		e = withOwner(Entry{Name: name, Mode: info.Mode()}, info, p)
		var err error
		if e.rdev, err = hostRdev(info, p); err != nil {
			return Entry{}, err
		}
	default:
		return Entry{}, fmt.Errorf("%s is a %s, which a layer built from files cannot hold", p, info.Mode().Type())
	}
	return withXattrs(e, p, o), nil
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
	return withOwner(Entry{Name: name, Mode: perm, Size: fi.Size(), Source: src, Link: inodeKey(fi), stat: statOf(fi)}, fi, src)
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
