package layer

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"

	"github.com/gantry-build/gantry/pkg/store"
)

// fileStat is what tells a file unchanged without reading it, as git's index
// does: size, mtime and ctime in nanoseconds, device and inode. ctime moves
// whenever content or metadata change, even when mtime is put back.
type fileStat struct {
	Size  int64  `json:"s"`
	Mtime int64  `json:"m"`
	Ctime int64  `json:"c"`
	Dev   uint64 `json:"d"`
	Ino   uint64 `json:"i"`
}

// hashCache maps host files to their content hashes across builds, so that an
// unchanged folder is recognised from stat calls alone.
type hashCache struct {
	path    string
	mu      sync.Mutex
	entries map[string]hashEntry
	dirty   bool
}

type hashEntry struct {
	Stat fileStat `json:"st"`
	Sum  string   `json:"h"`
}

func openHashCache(st *store.Store) *hashCache {
	c := &hashCache{path: st.CacheDir(store.CacheFileHashes), entries: map[string]hashEntry{}}
	if raw, err := os.ReadFile(c.path); err == nil {
		_ = json.Unmarshal(raw, &c.entries) // a damaged cache is an empty one
	}
	return c
}

func (c *hashCache) get(e Entry) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	he, ok := c.entries[e.Source]
	if !ok || he.Stat != e.stat || e.stat.Ino == 0 {
		return nil, false
	}
	sum, err := hex.DecodeString(he.Sum)
	return sum, err == nil
}

func (c *hashCache) put(e Entry, sum []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries[e.Source] = hashEntry{Stat: e.stat, Sum: hex.EncodeToString(sum)}
	c.dirty = true
}

// save writes the cache atomically; failing costs only a re-hash next time.
func (c *hashCache) save() {
	if !c.dirty {
		return
	}
	raw, err := json.Marshal(c.entries)
	if err != nil || os.MkdirAll(filepath.Dir(c.path), 0o755) != nil {
		return
	}
	f, err := os.CreateTemp(filepath.Dir(c.path), ".file-hashes-*")
	if err != nil {
		return
	}
	_, werr := f.Write(raw)
	if cerr := f.Close(); werr == nil && cerr == nil {
		os.Rename(f.Name(), c.path)
	}
	os.Remove(f.Name())
}
