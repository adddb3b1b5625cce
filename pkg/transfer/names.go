package transfer

import (
	"github.com/gantry-build/gantry/pkg/reference"
	"github.com/gantry-build/gantry/pkg/store"
)

// Tag gives the stored image src the name dst as well; it returns dst's
// canonical form.
func Tag(st *store.Store, src, dst string) (string, error) {
	e, err := Resolve(st, src)
	if err != nil {
		return "", err
	}
	ref, err := reference.Parse(dst)
	if err != nil {
		return "", err
	}
	name := reference.Canonical(ref)
	return name, st.SetName(name, e.Descriptor)
}

// Remove removes what arg names: one name, or every name of an image given
// by digest. It returns the names removed; blobs stay until prune.
func Remove(st *store.Store, arg string) ([]string, error) {
	e, err := Resolve(st, arg)
	if err != nil {
		return nil, err
	}
	if ref, perr := reference.Parse(arg); perr == nil && reference.Canonical(ref) == e.Name {
		return []string{e.Name}, st.RemoveName(e.Name)
	}
	entries, err := st.List()
	if err != nil {
		return nil, err
	}
	var names []string
	for _, other := range entries {
		if other.Descriptor.Digest == e.Descriptor.Digest && other.Name != "" {
			names = append(names, other.Name)
		}
	}
	return names, st.RemoveDigest(e.Descriptor.Digest)
}
