package store

import (
	"path/filepath"

	"github.com/gantry-build/gantry/pkg/userns"
)

// CacheKind names one folder under the store's cache/. Every cache is named
// here, so that the code that fills a cache and prune read the same names.
type CacheKind string

// The store's caches. All are derived from blobs or are scratch space that
// a build refills on demand, so prune removes them all.
const (
	CacheRootfs         CacheKind = "rootfs"          // unpacked trees per chain ID (root)
	CacheRootfsRootless CacheKind = "rootfs-rootless" // the same, made without root (owners in xattrs)
	CacheSteps          CacheKind = "steps"           // Dockerfile step key → image digest
	CacheLayers         CacheKind = "layers"          // file-set key → built layer
	CacheFileHashes     CacheKind = "file-hashes"     // stat → content hash of source files
	CacheCopyTrees      CacheKind = "copy-trees"      // the last tree of each COPY, to revise
	CacheRunMounts      CacheKind = "run-mounts"      // RUN --mount=type=cache folders
)

var allCaches = []CacheKind{CacheRootfs, CacheRootfsRootless, CacheSteps, CacheLayers, CacheFileHashes, CacheCopyTrees, CacheRunMounts}

// CacheDir is where a cache of kind k lives (a file for CacheFileHashes).
func (s *Store) CacheDir(k CacheKind) string { return filepath.Join(s.root, "cache", string(k)) }

// RootfsCache is the unpacked-tree cache for this process: trees unpacked
// without root carry their owners differently and are kept apart.
func (s *Store) RootfsCache() string {
	if userns.Rootless() {
		return s.CacheDir(CacheRootfsRootless)
	}
	return s.CacheDir(CacheRootfs)
}

// TempDir is the store's scratch folder: on the store's filesystem, so
// that what is made there is renamed into place, and emptied by prune.
func (s *Store) TempDir() string { return s.tmpDir() }

// Dir is a folder of the store that another package owns the contents of
// (working containers); the store names it and prune leaves it alone.
func (s *Store) Dir(name string) string { return filepath.Join(s.root, name) }
