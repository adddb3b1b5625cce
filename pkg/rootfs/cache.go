package rootfs

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Cache keeps unpacked root filesystems in the store, one directory per
// chain of layers (named by the chain ID, as Docker's layer store does), so
// that the next build on the same base unpacks nothing, and a base that
// grew by one layer unpacks only that layer.
type Cache struct {
	dir string
}

// NewCache keeps its directories under root (the store's RootfsCache).
func NewCache(root string) *Cache { return &Cache{dir: root} }

// Get returns a directory holding img's root filesystem. Callers must not
// change it: it is shared with later builds.
func (c *Cache) Get(img v1.Image) (string, error) {
	layers, err := img.Layers()
	if err != nil {
		return "", err
	}
	chain := make([]string, len(layers))
	prev := ""
	for i, l := range layers {
		d, err := l.DiffID()
		if err != nil {
			return "", err
		}
		prev = chainID(prev, d.String())
		chain[i] = prev
	}
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return "", err
	}
	// The longest chain already unpacked is the starting point.
	start := len(chain)
	for start > 0 && !exists(c.path(chain[start-1])) {
		start--
	}
	if start == len(chain) {
		if start == 0 {
			return c.empty()
		}
		return c.path(chain[start-1]), nil
	}
	for i := start; i < len(chain); i++ {
		tmp, err := os.MkdirTemp(c.dir, ".unpack-*")
		if err != nil {
			return "", err
		}
		// The root directory of a container is 0755; MkdirTemp made 0700,
		// which would lock out every user but root.
		if err := os.Chmod(tmp, 0o755); err != nil {
			return "", err
		}
		if i > 0 {
			// Hard-linked copy of the layers below: Apply never writes
			// into an existing file (it replaces it), so the cached parent
			// stays as it is.
			if err := LinkTree(c.path(chain[i-1]), tmp); err != nil {
				os.RemoveAll(tmp)
				return "", fmt.Errorf("rootfs cache: %w", err)
			}
		}
		if err := applyLayer(tmp, layers[i]); err != nil {
			os.RemoveAll(tmp)
			return "", fmt.Errorf("layer %d/%d: %w", i+1, len(layers), err)
		}
		if err := os.Rename(tmp, c.path(chain[i])); err != nil {
			os.RemoveAll(tmp) // another gantry finished the same chain first
			if !exists(c.path(chain[i])) {
				return "", err
			}
		}
	}
	return c.path(chain[len(chain)-1]), nil
}

func (c *Cache) path(chain string) string { return filepath.Join(c.dir, chain) }

func (c *Cache) empty() (string, error) {
	p := filepath.Join(c.dir, "empty")
	return p, os.MkdirAll(p, 0o755)
}

// chainID is the OCI chain ID: sha256 of "parent diffID", hex only.
func chainID(parent, diffID string) string {
	if parent == "" {
		return diffID[len("sha256:"):]
	}
	sum := sha256.Sum256([]byte("sha256:" + parent + " " + diffID))
	return hex.EncodeToString(sum[:])
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// Pending is a root filesystem being made for a layer that is being
// written at the same time: the layer's tar stream is applied as it is
// produced, so the next step finds it unpacked without decompressing
// anything.
type Pending struct {
	c      *Cache
	dir    string
	parent string // chain ID of the layers below, "" for none
}

// Extend starts the root filesystem of img plus one more layer.
func (c *Cache) Extend(img v1.Image) (*Pending, error) {
	base, err := c.Get(img)
	if err != nil {
		return nil, err
	}
	chain, err := c.chainOf(img)
	if err != nil {
		return nil, err
	}
	return c.extendFrom(base, chain)
}

// Revise starts the root filesystem of img plus one more layer from the
// tree of img plus an earlier version of that layer (chain ID earlier), when
// it is still cached: the caller then applies only what differs. ok is
// false when there is no such tree.
func (c *Cache) Revise(img v1.Image, earlier string) (p *Pending, parentDir string, ok bool, err error) {
	if earlier == "" || !exists(c.path(earlier)) {
		return nil, "", false, nil
	}
	parentDir, err = c.Get(img)
	if err != nil {
		return nil, "", false, err
	}
	chain, err := c.chainOf(img)
	if err != nil {
		return nil, "", false, err
	}
	p, err = c.extendFrom(c.path(earlier), chain)
	return p, parentDir, err == nil, err
}

// ChainAfter is the chain ID of img's layers plus one with diffID.
func (c *Cache) ChainAfter(img v1.Image, diffID v1.Hash) (string, error) {
	chain, err := c.chainOf(img)
	if err != nil {
		return "", err
	}
	return chainID(chain, diffID.String()), nil
}

// Dir is the pending tree's directory.
func (p *Pending) Dir() string { return p.dir }

func (c *Cache) extendFrom(base, chain string) (*Pending, error) {
	tmp, err := os.MkdirTemp(c.dir, ".unpack-*")
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		os.RemoveAll(tmp)
		return nil, err
	}
	if err := LinkTree(base, tmp); err != nil {
		os.RemoveAll(tmp)
		return nil, fmt.Errorf("rootfs cache: %w", err)
	}
	return &Pending{c: c, dir: tmp, parent: chain}, nil
}

// Apply applies the new layer's uncompressed tar stream.
func (p *Pending) Apply(r io.Reader) error { return Apply(p.dir, r) }

// Commit names the tree by the new layer's diff ID.
func (p *Pending) Commit(diffID v1.Hash) error {
	final := p.c.path(chainID(p.parent, diffID.String()))
	if exists(final) {
		return os.RemoveAll(p.dir)
	}
	if err := os.Rename(p.dir, final); err != nil {
		os.RemoveAll(p.dir)
		return err
	}
	return nil
}

// Abort discards the tree.
func (p *Pending) Abort() { os.RemoveAll(p.dir) }

// chainOf is the chain ID of all of img's layers, "" for none.
func (c *Cache) chainOf(img v1.Image) (string, error) {
	layers, err := img.Layers()
	if err != nil {
		return "", err
	}
	chain := ""
	for _, l := range layers {
		d, err := l.DiffID()
		if err != nil {
			return "", err
		}
		chain = chainID(chain, d.String())
	}
	return chain, nil
}
