package layer

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"maps"
	"os"
	"path/filepath"
	"sync"
	"time"

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
	Sum  [32]byte // sha256 of the content
	Used uint16   // the last day a build used it (days since the epoch)
	// Racy: recorded from a racy listing (Entry.racy): the sum is checked
	// against the file before it is used.
	Racy bool
}

// hashCacheMagic starts the cache file: a version, so that an older format
// reads as an empty cache.
const hashCacheMagic = "gantry-file-hashes-v4\n"

// hashCacheKeepDays is how long an entry no build uses is kept: every
// process decodes the whole cache, which would otherwise grow with every
// tree the machine ever built.
const hashCacheKeepDays = 30

// today is the day entries are marked used (days since the epoch; tests
// move it).
var today = func() uint16 { return uint16(time.Now().Unix() / 86400) }

// openHashCache is the store's file-hash cache, read from disk once per
// process: the builds of one process (stages at once, the key, the layer and
// the signatures of one COPY) share it, so none loses what another learned
// and the file is decoded once.
func openHashCache(st *store.Store) *hashCache {
	path := st.CacheDir(store.CacheFileHashes)
	hashCachesMu.Lock()
	defer hashCachesMu.Unlock()
	if c, ok := hashCaches[path]; ok {
		return c
	}
	c := &hashCache{path: path, entries: map[string]hashEntry{}}
	if raw, err := os.ReadFile(c.path); err == nil {
		c.entries = decodeHashes(raw) // a damaged cache is an empty one
	}
	hashCaches[path] = c
	return c
}

var (
	hashCachesMu sync.Mutex
	hashCaches   = map[string]*hashCache{} // by file path
)

// The cache is read by every build whose sources are unchanged, so it is a
// flat binary file rather than JSON (11,000 entries: 60 ms of JSON decoding
// against 2 ms): per entry, the path (uvarint length, bytes), seven
// uvarints (size, mtime, ctime, device, inode, the day last used, racy)
// and the 32-byte sum. It is written through a buffer, not made whole first.
func encodeHashes(w io.Writer, entries map[string]hashEntry) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.WriteString(hashCacheMagic)
	var buf []byte
	for p, e := range entries {
		buf = binary.AppendUvarint(buf[:0], uint64(len(p)))
		buf = append(buf, p...)
		racy := uint64(0)
		if e.Racy {
			racy = 1
		}
		for _, v := range []uint64{uint64(e.Stat.Size), uint64(e.Stat.Mtime), uint64(e.Stat.Ctime), e.Stat.Dev, e.Stat.Ino, uint64(e.Used), racy} {
			buf = binary.AppendUvarint(buf, v)
		}
		buf = append(buf, e.Sum[:]...)
		bw.Write(buf)
	}
	return bw.Flush()
}

func decodeHashes(raw []byte) map[string]hashEntry {
	// Sized at once (an entry takes 90-130 bytes for paths of 40-80): a map
	// grown one split at a time cost more than reading the file.
	out := make(map[string]hashEntry, len(raw)/100)
	rest, ok := bytes.CutPrefix(raw, []byte(hashCacheMagic))
	if !ok {
		return out
	}
	next := func() (uint64, bool) {
		v, n := binary.Uvarint(rest)
		if n <= 0 {
			return 0, false
		}
		rest = rest[n:]
		return v, true
	}
	for len(rest) > 0 {
		n, ok := next()
		if !ok || n > uint64(len(rest)) {
			return map[string]hashEntry{}
		}
		p := string(rest[:n])
		rest = rest[n:]
		var v [7]uint64
		for i := range v {
			if v[i], ok = next(); !ok {
				return map[string]hashEntry{}
			}
		}
		if len(rest) < 32 {
			return map[string]hashEntry{}
		}
		e := hashEntry{Stat: fileStat{Size: int64(v[0]), Mtime: int64(v[1]), Ctime: int64(v[2]), Dev: v[3], Ino: v[4]}, Used: uint16(v[5]), Racy: v[6] != 0}
		copy(e.Sum[:], rest)
		out[p] = e
		rest = rest[32:]
	}
	return out
}

// get is e's content hash when its stat is the one recorded. A hash
// recorded from a racy listing is checked by reading the file again, and
// recorded anew (settled, if e's listing was not racy).
func (c *hashCache) get(e Entry) ([]byte, bool) {
	c.mu.Lock()
	he, ok := c.entries[e.Source]
	if !ok || he.Stat != e.stat || e.stat.Ino == 0 {
		c.mu.Unlock()
		return nil, false
	}
	if day := today(); he.Used != day {
		// Saved once a day at most for an unchanged tree: enough to keep it.
		he.Used = day
		c.entries[e.Source] = he
		c.dirty = true
	}
	c.mu.Unlock()
	if !he.Racy {
		return he.Sum[:], true
	}
	sum, err := hashFile(e)
	if err != nil {
		return nil, false // changed since it was listed: not known
	}
	c.put(e, sum)
	return sum, true
}

func (c *hashCache) put(e Entry, sum []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(sum) != len(hashEntry{}.Sum) {
		return // not a sha256: not cached
	}
	he := hashEntry{Stat: e.stat, Used: today(), Racy: e.racy}
	copy(he.Sum[:], sum)
	c.entries[e.Source] = he
	c.dirty = true
}

// save writes the cache atomically; failing costs only a re-hash next time.
func (c *hashCache) save() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.dirty {
		return
	}
	c.dirty = false
	day := today()
	maps.DeleteFunc(c.entries, func(_ string, e hashEntry) bool { return day > e.Used && day-e.Used > hashCacheKeepDays })
	if os.MkdirAll(filepath.Dir(c.path), 0o755) != nil {
		return
	}
	f, err := os.CreateTemp(filepath.Dir(c.path), ".file-hashes-*")
	if err != nil {
		return
	}
	werr := encodeHashes(f, c.entries)
	if cerr := f.Close(); werr == nil && cerr == nil {
		os.Rename(f.Name(), c.path)
	}
	os.Remove(f.Name())
}

// forgetHashCaches drops what this process has read of hash caches (tests).
func forgetHashCaches() {
	hashCachesMu.Lock()
	defer hashCachesMu.Unlock()
	clear(hashCaches)
}
