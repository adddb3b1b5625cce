package layer

import (
	"testing"

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
