//go:build !linux

package treewalk

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// walk is filepath.WalkDir, one folder at a time, from the folder root
// names (a link is followed: WalkDir starts from root's Lstat), sorted by
// Rel (WalkDir's order puts "a/b" before "a-c"), then converted.
func walk[T any](dst []T, root string, descend func(rel string) bool, conv func(Entry) (T, bool, error)) ([]T, error) {
	listed, err := list(root, descend)
	if err != nil {
		return dst, err
	}
	for _, e := range listed {
		item, keep, err := conv(e)
		if err != nil {
			return dst, err
		}
		if keep {
			dst = append(dst, item)
		}
	}
	return dst, nil
}

// keep is fi: os.Lstat's FileInfos are the caller's.
func keep(fi fs.FileInfo) fs.FileInfo { return fi }

func list(root string, descend func(rel string) bool) ([]Entry, error) {
	if fi, err := os.Stat(root); err == nil && fi.IsDir() {
		if real, err := filepath.EvalSymlinks(root); err == nil {
			root = real
		}
	}
	var out []Entry
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) && p != root {
				return nil // removed since it was listed
			}
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		out = append(out, Entry{Path: p, Rel: rel, Info: info})
		if d.IsDir() && !descend(rel) {
			return filepath.SkipDir
		}
		return nil
	})
	slices.SortFunc(out, func(a, b Entry) int { return strings.Compare(a.Rel, b.Rel) })
	return out, err
}
