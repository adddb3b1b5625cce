// Package container keeps working containers: a writable layer over an
// image's unpacked layers, kept in the store, in which commands run (in the
// RUN sandbox) and files are copied, until it is committed as an image.
package container

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/gantry-build/gantry/pkg/reference"
	"github.com/gantry-build/gantry/pkg/rootfs"
	"github.com/gantry-build/gantry/pkg/store"
)

// Container is one working container.
type Container struct {
	Name    string         `json:"name"`
	Image   string         `json:"image"`   // what the user named
	Digest  v1.Hash        `json:"digest"`  // the image's manifest, in the store
	Config  *v1.ConfigFile `json:"config"`  // the future image's config
	Created time.Time      `json:"created"` //

	dir string
}

// Upper is the directory holding the container's changes.
func (c *Container) Upper() string { return filepath.Join(c.dir, "upper") }

// Dir is the container's directory in the store.
func (c *Container) Dir() string { return c.dir }

// Containers are the working containers of a store.
type Containers struct {
	st  *store.Store
	dir string
}

// Open returns the working containers of st.
func Open(st *store.Store) *Containers {
	return &Containers{st: st, dir: st.Dir("containers")}
}

var validName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// Create makes a working container from the stored image with manifest
// digest d. name "" picks IMAGE-working-container, as buildah does.
func (cs *Containers) Create(name, image string, d v1.Hash) (*Container, error) {
	if err := Supported(); err != nil {
		return nil, err
	}
	img, err := cs.st.Image(d)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	if name == "" {
		base := "scratch"
		if ref, err := reference.Parse(image); err == nil {
			base = path.Base(ref.Context().RepositoryStr())
		}
		name = cs.freeName(base + "-working-container")
	}
	if !validName.MatchString(name) {
		return nil, fmt.Errorf("invalid container name %q: use letters, digits, '_', '.' and '-'", name)
	}
	c := &Container{Name: name, Image: image, Digest: d, Config: cf.DeepCopy(), Created: time.Now().UTC(), dir: filepath.Join(cs.dir, name)}
	if err := os.MkdirAll(cs.dir, 0o755); err != nil {
		return nil, err
	}
	if err := os.Mkdir(c.dir, 0o700); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("a container named %s exists already: gantry rm %s, or choose another --name", name, name)
		}
		return nil, err
	}
	if err := os.Mkdir(c.Upper(), 0o755); err != nil {
		return nil, err
	}
	return c, cs.Save(c)
}

func (cs *Containers) freeName(base string) string {
	name := base
	for i := 2; ; i++ {
		if _, err := os.Stat(filepath.Join(cs.dir, name)); errors.Is(err, os.ErrNotExist) {
			return name
		}
		name = fmt.Sprintf("%s-%d", base, i)
	}
}

// Save writes the container's record.
func (cs *Containers) Save(c *Container) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(c.dir, ".container.json.tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(c.dir, "container.json"))
}

// ErrNotFound is returned for a container that does not exist.
var ErrNotFound = errors.New("no such container")

// Get returns the container called name.
func (cs *Containers) Get(name string) (*Container, error) {
	if err := Supported(); err != nil {
		return nil, err
	}
	if !validName.MatchString(name) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	dir := filepath.Join(cs.dir, name)
	b, err := os.ReadFile(filepath.Join(dir, "container.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s (gantry ps lists them)", ErrNotFound, name)
	}
	if err != nil {
		return nil, err
	}
	c := &Container{dir: dir}
	if err := json.Unmarshal(b, c); err != nil {
		return nil, fmt.Errorf("container %s: corrupt record: %w", name, err)
	}
	return c, nil
}

// List returns every container, by name.
func (cs *Containers) List() ([]*Container, error) {
	entries, err := os.ReadDir(cs.dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*Container
	for _, e := range entries {
		if c, err := cs.Get(e.Name()); err == nil {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Remove deletes the container and its changes.
func (cs *Containers) Remove(name string) error {
	c, err := cs.Get(name)
	if err != nil {
		return err
	}
	unlock, err := c.Lock()
	if err != nil {
		return err
	}
	defer unlock()
	return os.RemoveAll(c.dir)
}

// Image is the container's base image.
func (cs *Containers) Image(c *Container) (v1.Image, error) { return cs.st.Image(c.Digest) }

// Lower is the base image's unpacked root filesystem (shared, read only).
func (cs *Containers) Lower(ctx context.Context, c *Container) (string, error) {
	img, err := cs.Image(c)
	if err != nil {
		return "", err
	}
	return rootfs.NewCache(cs.st.RootfsCache()).Get(img)
}
