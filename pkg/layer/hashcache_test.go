package layer

import (
	"bytes"
	"crypto/sha256"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gantry-build/gantry/pkg/store"

	"github.com/gantry-build/gantry/internal/testenv"
)

// Builds running at once in one process (stages in parallel) share the
// file-hash cache: what each learns survives, and the file is decoded once.
func TestHashCacheSharedWithinAProcess(t *testing.T) {
	st := testenv.Store(t)
	a, b := openHashCache(st), openHashCache(st)
	one := Entry{Source: "/ctx/one", stat: fileStat{Size: 1, Ino: 11}}
	two := Entry{Source: "/ctx/two", stat: fileStat{Size: 2, Ino: 12}}
	sum := make([]byte, 32)
	a.put(one, sum)
	b.put(two, sum)
	a.save()
	b.save()
	forgetHashCaches()
	c := openHashCache(st)
	for _, e := range []Entry{one, two} {
		if _, ok := c.get(e); !ok {
			t.Errorf("%s: the hash learned by one of two builds at once was lost", e.Source)
		}
	}
}

// The cache keeps what builds use: an entry no build has used for
// hashCacheKeepDays is dropped when the cache is next saved, so a machine
// that built many trees once does not decode all of them for every build.
// One used again is kept.
func TestHashCacheForgetsWhatNoBuildUses(t *testing.T) {
	st := testenv.Store(t)
	day := fakeToday(t, 20000)
	old := Entry{Source: "/ctx/old", stat: fileStat{Size: 1, Ino: 11}}
	kept := Entry{Source: "/ctx/kept", stat: fileStat{Size: 2, Ino: 12}}
	sum := make([]byte, 32)
	c := openHashCache(st)
	c.put(old, sum)
	c.put(kept, sum)
	c.save()

	forgetHashCaches()
	*day += hashCacheKeepDays + 1
	c = openHashCache(st)
	if _, ok := c.get(kept); !ok {
		t.Fatal("an entry was dropped before the cache was saved")
	}
	c.put(Entry{Source: "/ctx/new", stat: fileStat{Size: 3, Ino: 13}}, sum)
	c.save()

	forgetHashCaches()
	c = openHashCache(st)
	if _, ok := c.get(kept); !ok {
		t.Error("an entry used today was dropped")
	}
	if _, ok := c.get(old); ok {
		t.Errorf("an entry unused for %d days was kept", hashCacheKeepDays+1)
	}
}

// Using an entry on a new day is remembered even when nothing else
// changed: an unchanged tree built every day keeps its entries.
func TestHashCacheUseIsRemembered(t *testing.T) {
	st := testenv.Store(t)
	day := fakeToday(t, 20000)
	e := Entry{Source: "/ctx/daily", stat: fileStat{Size: 1, Ino: 11}}
	c := openHashCache(st)
	c.put(e, make([]byte, 32))
	c.save()
	for range 3 {
		forgetHashCaches()
		*day += hashCacheKeepDays - 1
		c = openHashCache(st)
		if _, ok := c.get(e); !ok {
			t.Fatalf("day %d: the entry used every %d days is gone", *day, hashCacheKeepDays-1)
		}
		c.save()
	}
}

// A file changed within a timestamp tick of being listed keeps the stat it
// was listed with (git's "racily clean" files): its recorded hash is not
// trusted from the stat alone but read again, and a build of such files
// leaves no stat key. Here the cache holds a wrong hash for a file just
// written, as a same-size change right after the read would leave it.
func TestRacilyCleanFilesAreReadAgain(t *testing.T) {
	st := testenv.Store(t)
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte("now"), 0o644); err != nil {
		t.Fatal(err)
	}
	es, err := Collect([]Add{{Src: p, Dest: "/f"}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	e := es[len(es)-1]
	if !e.racy {
		t.Fatalf("a file written just now is not racy: %+v", e)
	}
	wrong := sha256.Sum256([]byte("before"))
	c := openHashCache(st)
	c.put(e, wrong[:])
	want := sha256.Sum256([]byte("now"))
	if got, ok := c.get(e); !ok || !bytes.Equal(got, want[:]) {
		t.Errorf("racy entry: got %x (%v), want the file's own %x", got, ok, want)
	}

	// Settled (listed well after its last change): the stat is trusted.
	e.racy = false
	c.put(e, wrong[:])
	if got, ok := c.get(e); !ok || !bytes.Equal(got, wrong[:]) {
		t.Errorf("settled entry: got %x (%v), want the recorded %x", got, ok, wrong)
	}
}

// A build whose files were written within the racy window keeps no stat
// key: the next build checks their content.
func TestRacyFilesLeaveNoStatKey(t *testing.T) {
	st := testenv.Store(t)
	src := tree(t, time.Now())
	first := buildApp(t, st, src)
	damageHashCache(t, st)
	if again := buildApp(t, st, src); again.Cached {
		t.Errorf("files written just now were trusted by their stat key: %+v (first %s)", again, first.Descriptor.Digest)
	}
}

// fakeToday makes today the day *d, from day, until the test ends.
func fakeToday(t *testing.T, day uint16) *uint16 {
	old := today
	t.Cleanup(func() { today = old })
	d := &day
	today = func() uint16 { return *d }
	return d
}

// damageHashCache leaves the store's file-hash cache unreadable (it reads
// as empty), for the next process to start without it.
func damageHashCache(t *testing.T, st *store.Store) {
	t.Helper()
	forgetHashCaches()
	if err := os.WriteFile(st.CacheDir(store.CacheFileHashes), []byte("damaged"), 0o600); err != nil {
		t.Fatal(err)
	}
}
