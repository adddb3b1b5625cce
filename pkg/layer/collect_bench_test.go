package layer

import (
	"testing"

	"github.com/gantry-build/gantry/internal/treetest"
)

// BenchmarkCollect10k lists a source tree of 10,000 files in 500 folders,
// what an unchanged build does before anything else:
//
//	go test -run '^$' -bench Collect10k ./pkg/layer
func BenchmarkCollect10k(b *testing.B) {
	src := b.TempDir()
	treetest.Wide(b, src, "", 500, 20)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		entries, err := Collect([]Add{{Src: src, Dest: "/src"}}, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if len(entries) < 10_000 {
			b.Fatalf("%d entries", len(entries))
		}
	}
}
