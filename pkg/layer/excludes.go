package layer

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// excludesOf is what leaves out a's files: a Dockerfile build's --exclude
// (the context's .dockerignore is Options.Ignore), or a folder's --exclude
// and own .dockerignore in a flag build. A file source has none unless it
// lies Below a folder they are relative to.
func excludesOf(a Add, o Options, dir bool) (*patternmatcher.PatternMatcher, error) {
	switch {
	case o.ContextRoot != "" && (dir || a.Below != ""):
		return matcher("", o.Excludes)
	case o.ContextRoot == "" && dir:
		return matcher(a.Src, o.Excludes)
	}
	return nil, nil
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
