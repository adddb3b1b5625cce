package store

import (
	"fmt"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// PruneResult says what Prune removed.
type PruneResult struct {
	Blobs int   // blobs deleted
	Bytes int64 // bytes freed, temp files included
}

// Prune deletes every blob that no named image reaches (nor the images in
// also: the bases of working containers), every leftover temp file of a
// killed gantry, and the caches derived from blobs: unpacked root
// filesystems, build steps and file hashes, which rebuild on demand. It waits
// for writers (pulls, loads, builds in progress) to finish and blocks new
// ones while it runs.
func (s *Store) Prune(also ...v1.Descriptor) (PruneResult, error) {
	var res PruneResult
	unlockGC, err := s.flock("gc.lock", lockExclusive)
	if err != nil {
		return res, err
	}
	defer unlockGC()
	unlockIndex, err := s.lockIndex()
	if err != nil {
		return res, err
	}
	defer unlockIndex()

	keep, err := s.reachable(also)
	if err != nil {
		return res, err
	}
	entries, err := os.ReadDir(s.blobDir())
	if err != nil {
		return res, fmt.Errorf("store: %w", err)
	}
	for _, e := range entries {
		if keep[e.Name()] {
			continue
		}
		if err := s.removeCounting(filepath.Join(s.blobDir(), e.Name()), &res); err != nil {
			return res, err
		}
		res.Blobs++
	}
	if err := s.pruneRecords(&res); err != nil {
		return res, err
	}
	if err := s.pruneSources(keep, &res); err != nil {
		return res, err
	}
	for _, k := range allCaches {
		if err := s.removeCounting(s.CacheDir(k), &res); err != nil {
			return res, err
		}
	}
	tmp, err := os.ReadDir(s.tmpDir())
	if err != nil {
		return res, fmt.Errorf("store: %w", err)
	}
	for _, e := range tmp {
		if err := s.removeCounting(filepath.Join(s.tmpDir(), e.Name()), &res); err != nil {
			return res, err
		}
	}
	return res, nil
}

func (s *Store) removeCounting(path string, res *PruneResult) error {
	if fi, err := os.Lstat(path); err == nil {
		res.Bytes += fi.Size()
	}
	if err := os.RemoveAll(path); err != nil {
		return fmt.Errorf("store: prune: %w", err)
	}
	return nil
}

// reachable marks the hex digests of every blob a named manifest or index
// refers to, recursively.
func (s *Store) reachable(also []v1.Descriptor) (map[string]bool, error) {
	idx, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	idx.Manifests = append(idx.Manifests, also...)
	keep := map[string]bool{}
	mark := func(d v1.Descriptor) error {
		keep[d.Digest.Hex] = true
		return nil
	}
	for _, d := range idx.Manifests {
		if keep[d.Digest.Hex] {
			continue
		}
		if err := s.Walk(d, mark); err != nil {
			return nil, err
		}
	}
	return keep, nil
}

// pruneRecords drops the diff ID records (verify.go) of blobs that are gone.
func (s *Store) pruneRecords(res *PruneResult) error {
	dir := s.diffIDDir()
	records, _ := os.ReadDir(dir)
	for _, e := range records {
		if _, err := os.Stat(filepath.Join(s.blobDir(), e.Name())); err == nil {
			continue
		}
		if err := s.removeCounting(filepath.Join(dir, e.Name()), res); err != nil {
			return err
		}
	}
	dir = s.compressedDir()
	records, _ = os.ReadDir(dir)
	for _, e := range records {
		if _, _, ok := s.CompressedOf(v1.Hash{Algorithm: "sha256", Hex: e.Name()}); ok {
			continue
		}
		if err := s.removeCounting(filepath.Join(dir, e.Name()), res); err != nil {
			return err
		}
	}
	return nil
}
