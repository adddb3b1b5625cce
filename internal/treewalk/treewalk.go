// Package treewalk lists a folder's tree on all cores: the files a layer is
// made from, most of an unchanged build's time.
package treewalk

import "io/fs"

// Entry is one file, folder or link below the root.
type Entry struct {
	Path string      // on the host: the root (as given; its target off Linux) joined with Rel
	Rel  string      // slash-separated, relative to the root
	Info fs.FileInfo // as Lstat gives it: links are not followed
}

// Walk lists everything below root, sorted by Rel (a folder before what it
// holds). root is followed when it is a link, nothing below it is.
// descend says whether to list what the folder rel holds; it is called
// from several goroutines at once, once per folder.
func Walk(root string, descend func(rel string) bool) ([]Entry, error) {
	return Map(nil, root, descend, func(e Entry) (Entry, bool, error) {
		e.Info = keep(e.Info)
		return e, true, nil
	})
}

// Map is Walk with each entry turned into what conv makes of it, appended
// to dst; conv leaves an entry out by returning false. On Linux conv runs
// where the entry's folder is read, on all cores at once: a large tree is
// neither listed twice nor kept as fs.FileInfos. The Entry's Info is valid
// only during the call (its memory holds the next file's): conv copies
// what it keeps.
func Map[T any](dst []T, root string, descend func(rel string) bool, conv func(Entry) (T, bool, error)) ([]T, error) {
	return walk(dst, root, descend, conv)
}
