package transfer

import (
	"io"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/gantry-build/gantry/pkg/archive"
	"github.com/gantry-build/gantry/pkg/store"
)

// Save writes the stored images args name into one archive on w. Images
// named twice (two tags of one image) are written once with both tags.
func Save(st *store.Store, w io.Writer, args []string, opts archive.SaveOptions) error {
	var items []archive.Item
	at := map[string]int{} // manifest digest → index in items
	for _, arg := range args {
		e, err := Resolve(st, arg)
		if err != nil {
			return err
		}
		var tags []name.Tag
		if t, err := name.NewTag(e.Name); err == nil && e.Name != "" {
			tags = append(tags, t)
		}
		if i, ok := at[e.Descriptor.Digest.String()]; ok {
			items[i].Names = append(items[i].Names, tags...)
			continue
		}
		item := archive.Item{Names: tags}
		if e.IsIndex() {
			if item.Index, err = st.Index(e.Descriptor.Digest); err != nil {
				return err
			}
		} else if item.Image, err = st.Image(e.Descriptor.Digest); err != nil {
			return err
		}
		at[e.Descriptor.Digest.String()] = len(items)
		items = append(items, item)
	}
	return archive.Save(w, items, opts)
}
