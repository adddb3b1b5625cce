//go:build linux || darwin

package rootfs

import (
	"archive/tar"
	"io"
	"io/fs"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/gantry-build/gantry/internal/treewalk"
)

// Skip tells the paths (relative, slash-separated, no leading slash) that a
// snapshot, a sync or a changeset leaves out, with everything below them.
type Skip func(rel string) bool

// Snapshot is the metadata of every path of a tree, enough to tell a change
// without reading content: the kernel updates ctime on every change of
// content, mode, owner, link or xattrs, and a replaced file has a new inode.
type Snapshot struct {
	root  string
	paths map[string]stamp
}

type stamp struct {
	mode       uint32
	uid, gid   uint32
	size       int64
	mtime      syscall.Timespec
	ctime      syscall.Timespec
	ino, dev   uint64
	rdev       uint64
	linkTarget string
}

// TakeSnapshot walks root, leaving out what skip names.
func TakeSnapshot(root string, skip Skip) (*Snapshot, error) {
	s := &Snapshot{root: root, paths: map[string]stamp{}}
	err := walkSkipping(root, skip, func(rel string, fi fs.FileInfo) error {
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return nil
		}
		s.paths[rel] = stampOf(st)
		return nil
	})
	return s, err
}

// Len is the number of paths in the snapshot.
func (s *Snapshot) Len() int { return len(s.paths) }

// WriteSnapshotChanges writes, as a layer tar with .wh. whiteouts, what
// changed in root since before was taken: paths that are new, or whose
// metadata stamp differs (changed content has a new ctime), and whiteouts
// for the top-most paths that are gone. It returns the snapshot of root as
// it is now, the "before" of the next change.
func WriteSnapshotChanges(w io.Writer, before *Snapshot, skip Skip, o ChangeOptions) (*Snapshot, error) {
	cw := &changeWriter{tw: tar.NewWriter(w), upper: before.root, links: HardLinks{}, rootOwned: o.RootOwned}
	after := &Snapshot{root: before.root, paths: map[string]stamp{}}
	type out struct {
		name string
		fi   fs.FileInfo // nil: whiteout (or an empty folder, with dir)
		dir  bool
	}
	var all []out
	err := walkSkipping(before.root, skip, func(rel string, fi fs.FileInfo) error {
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return nil
		}
		now := stampOf(st)
		after.paths[rel] = now
		if old, ok := before.paths[rel]; !ok || old != now {
			all = append(all, out{name: rel, fi: fi})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Deletions: paths before had and root lost, each whose folder is
	// still a folder (below a deleted or replaced folder, the parent's own
	// whiteout or new entry covers them).
	for rel := range before.paths {
		if _, ok := after.paths[rel]; ok {
			continue
		}
		if dir := path.Dir(rel); dir != "." {
			if st, ok := after.paths[dir]; !ok || st.mode&syscall.S_IFMT != syscall.S_IFDIR {
				continue
			}
		}
		all = append(all, out{name: path.Join(path.Dir(rel), whiteoutPrefix+path.Base(rel))})
	}
	for _, d := range o.EmptyDirs {
		all = append(all, out{name: d, dir: true})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].name < all[j].name })
	for _, e := range all {
		switch {
		case e.dir:
			err = cw.tw.WriteHeader(Meta{Name: e.name, Mode: fs.ModeDir | 0o755, ModTime: time.Unix(0, 0)}.Header())
		case e.fi == nil:
			err = cw.whiteout(e.name)
		default:
			err = cw.add(e.name, e.fi)
		}
		if err != nil {
			return nil, err
		}
	}
	return after, cw.tw.Close()
}

// walkSkipping visits every path below root sorted by path (a folder
// before what it holds), root excluded, leaving out what skip names (which
// is asked from several goroutines at once). The folders are read on all
// cores first; fn returning filepath.SkipDir for a folder passes over what
// it holds. A path that vanishes while it is walked is passed over.
func walkSkipping(root string, skip Skip, fn func(rel string, fi fs.FileInfo) error) error {
	entries, err := treewalk.Walk(root, func(rel string) bool { return skip == nil || !skip(rel) })
	if err != nil {
		return err
	}
	skipped := "" // a folder fn passed over, with its slash
	for _, e := range entries {
		if skipped != "" && strings.HasPrefix(e.Rel, skipped) {
			continue // what a path starts with is contiguous in sorted order
		}
		if skip != nil && skip(e.Rel) {
			continue
		}
		err := fn(e.Rel, e.Info)
		if err == filepath.SkipDir && e.Info.IsDir() {
			skipped = e.Rel + "/"
			continue
		}
		if err != nil {
			return err
		}
	}
	return nil
}
