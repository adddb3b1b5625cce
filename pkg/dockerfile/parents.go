package dockerfile

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/moby/patternmatcher"

	"github.com/gantry-build/gantry/pkg/layer"
)

// parentsSources finds what COPY --parents SRC copies, as BuildKit's
// dispatchCopy and fsutil's copy with an include pattern find it: SRC is
// cut at its first "/./" (without one, at /) into a base, which may hold
// wildcards, and a pattern below it, which may too (** included). Each
// entry of a base folder that matches the pattern, with what lies under
// it, is copied with its path below the base (Add.Dest, see belowDest),
// and --exclude is relative to the base (Add.Below). based is whether a base was found: BuildKit then
// makes the destination even when nothing matched. A SRC without
// wildcards must match.
func parentsSources(root, src string, o layer.Options) (adds []layer.Add, based bool, err error) {
	base, pattern, ok := strings.Cut(src, "/./")
	if !ok {
		base, pattern = "/", src
	}
	pattern = strings.TrimPrefix(path.Clean("/"+pattern), "/")
	var bases []source
	if hasWildcard(base) {
		if bases, err = sources(root, base, o); err != nil {
			return nil, false, err
		}
	} else {
		p, err := inRoot(root, base)
		if err != nil {
			return nil, false, err
		}
		if _, err := os.Stat(p); err != nil {
			return nil, false, fmt.Errorf("%s: not found in the build context", src)
		}
		bases = []source{{path: p, name: path.Base(base)}}
	}
	if pattern == "" {
		// The base itself: all of it goes below the destination.
		for _, b := range bases {
			a := b.add()
			a.Dest = belowDest("", b.path)
			adds = append(adds, a)
		}
		return adds, len(bases) > 0, nil
	}
	pm, err := patternmatcher.New([]string{pattern})
	if err != nil {
		return nil, false, fmt.Errorf("COPY --parents %s: %w", src, err)
	}
	for _, b := range bases {
		if !isDir(b.path) {
			continue
		}
		found, err := matchTree(b.path, "", pm, patternmatcher.MatchInfo{}, o)
		if err != nil {
			return nil, false, err
		}
		for _, rel := range found {
			p := filepath.Join(b.path, filepath.FromSlash(rel))
			adds = append(adds, layer.Add{Src: p, Dest: belowDest(rel, p), Name: path.Base(rel), NoFollow: true, Below: rel})
		}
	}
	if len(adds) == 0 && !hasWildcard(base) && !hasWildcard(pattern) {
		return nil, false, fmt.Errorf("%s: not found in the build context", src)
	}
	return adds, len(bases) > 0, nil
}

// matchTree walks dir (rel below its base) and returns the topmost paths
// that match pm: what lies under a match comes with it. Symlinks are not
// followed; what .dockerignore leaves out is not looked at.
func matchTree(dir, rel string, pm *patternmatcher.PatternMatcher, parent patternmatcher.MatchInfo, o layer.Options) ([]string, error) {
	names, err := readNames(filepath.Join(dir, filepath.FromSlash(rel)))
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var out []string
	for _, n := range names {
		r := path.Join(rel, n)
		p := filepath.Join(dir, filepath.FromSlash(r))
		if layer.Excluded(o, p) {
			continue
		}
		ok, info, err := pm.MatchesUsingParentResults(r, parent)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, r)
			continue
		}
		fi, err := os.Lstat(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if fi.IsDir() {
			below, err := matchTree(dir, r, pm, info, o)
			if err != nil {
				return nil, err
			}
			out = append(out, below...)
		}
	}
	return out, nil
}

// belowDest is where the source at p, rel below its base, goes below the
// destination: a folder at its path, a file into its folder.
func belowDest(rel, p string) string {
	if fi, err := os.Lstat(p); err == nil && fi.IsDir() { // a link is copied as a link, as a file
		return path.Join("/", rel)
	}
	return strings.TrimSuffix(path.Join("/", path.Dir("/"+rel)), "/") + "/"
}
