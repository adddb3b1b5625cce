package transfer

import (
	"fmt"
	"strings"

	"github.com/gantry-build/gantry/pkg/store"
)

// findImageID returns the stored image whose image ID starts with prefix
// ("sha256:abcd…" or bare hex): the config digest, which docker images
// shows as IMAGE ID and docker accepts wherever an image is named. An
// index's ID is its own digest, which FindDigest matches already. Names of
// one image share its ID: the first is returned; two images matching is an
// error.
func findImageID(st *store.Store, prefix string) (store.Entry, error) {
	prefix = strings.TrimPrefix(prefix, "sha256:")
	entries, err := st.List()
	if err != nil {
		return store.Entry{}, err
	}
	var found *store.Entry
	var foundID string
	for i, e := range entries {
		if e.IsIndex() {
			continue
		}
		img, err := st.Image(e.Descriptor.Digest)
		if err != nil {
			continue // an incomplete image has no ID to match
		}
		m, err := img.Manifest()
		if err != nil || !strings.HasPrefix(m.Config.Digest.Hex, prefix) {
			continue
		}
		if found != nil && foundID != m.Config.Digest.Hex {
			return store.Entry{}, fmt.Errorf("image ID %s is ambiguous: it matches %s and %s", prefix, found.Name, e.Name)
		}
		if found == nil {
			found, foundID = &entries[i], m.Config.Digest.Hex
		}
	}
	if found == nil {
		return store.Entry{}, fmt.Errorf("%s: %w", prefix, store.ErrNotFound)
	}
	return *found, nil
}
