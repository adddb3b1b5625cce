// Package treewalk lists a folder's tree on all cores: the files a layer is
// made from, most of an unchanged build's time.
package treewalk

import (
	"io/fs"
	"sort"
)

// Entry is one file, folder or link below the root.
type Entry struct {
	Rel  string      // slash-separated, relative to the root
	Info fs.FileInfo // as Lstat gives it: links are not followed
}

// Walk lists everything below root, sorted by Rel (a folder before what it
// holds). root is followed when it is a link, nothing below it is.
// descend says whether to list what the folder rel holds; it is called
// from several goroutines at once, once per folder.
func Walk(root string, descend func(rel string) bool) ([]Entry, error) {
	entries, err := walk(root, descend)
	if err != nil {
		return nil, err
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Rel < entries[j].Rel })
	return entries, nil
}
