package inspect

import (
	"strconv"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/gantry-build/gantry/pkg/platform"
	"github.com/gantry-build/gantry/pkg/reference"
	"github.com/gantry-build/gantry/pkg/store"
)

// Row is one line of gantry images.
type Row struct {
	Name       string     `json:"name"`
	Repository string     `json:"repository"`
	Tag        string     `json:"tag"`
	Digest     string     `json:"digest"`
	ID         string     `json:"id,omitempty"`
	Platform   string     `json:"platform"`            // os/arch[/variant], or "N platforms" for an index
	Platforms  []string   `json:"platforms,omitempty"` // an index's platforms, for scripts
	Size       int64      `json:"size"`
	Created    *time.Time `json:"created,omitempty"`
}

// List describes every image in the store. Sizes count each blob of an
// index once.
func List(st *store.Store) ([]Row, error) {
	entries, err := st.List()
	if err != nil {
		return nil, err
	}
	var rows []Row
	for _, e := range entries {
		row := Row{Name: e.Name, Repository: "<none>", Tag: "<none>", Digest: e.Descriptor.Digest.String()}
		if e.Name != "" {
			if ref, err := reference.Parse(e.Name); err == nil {
				row.Repository = reference.FamiliarRepository(ref.Context())
				if _, byDigest := ref.(name.Digest); !byDigest {
					row.Tag = ref.Identifier() // a digest is in its own column
				}
			}
		}
		if e.IsIndex() {
			fillIndex(st, e.Descriptor.Digest, &row)
		} else {
			fillImage(st, e.Descriptor.Digest, &row, map[v1.Hash]bool{})
		}
		rows = append(rows, row)
	}
	return rows, nil
}

func fillImage(st *store.Store, h v1.Hash, row *Row, counted map[v1.Hash]bool) {
	img, err := st.Image(h)
	if err != nil {
		row.Platform = "(incomplete)"
		return
	}
	m, err := img.Manifest()
	if err != nil {
		return
	}
	for _, d := range append([]v1.Descriptor{m.Config}, m.Layers...) {
		if !counted[d.Digest] {
			counted[d.Digest] = true
			row.Size += d.Size
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return
	}
	row.ID = m.Config.Digest.String()
	if row.Platform == "" {
		row.Platform = platform.String(platform.OfConfig(cf))
	}
	if !cf.Created.IsZero() && (row.Created == nil || cf.Created.After(*row.Created)) {
		t := cf.Created.UTC()
		row.Created = &t
	}
}

func fillIndex(st *store.Store, h v1.Hash, row *Row) {
	idx, err := st.Index(h)
	if err != nil {
		return
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return
	}
	counted := map[v1.Hash]bool{}
	n := 0
	for _, d := range im.Manifests {
		if d.MediaType.IsImage() && st.HasBlob(d.Digest) && (d.Platform == nil || d.Platform.OS != "unknown") {
			n++
			fillImage(st, d.Digest, row, counted)
			if d.Platform != nil {
				row.Platforms = append(row.Platforms, platform.String(*d.Platform))
			}
		}
	}
	row.Platform = platformCount(n)
	row.ID = ""
}

func platformCount(n int) string {
	if n == 1 {
		return "1 platform"
	}
	return strconv.Itoa(n) + " platforms"
}
