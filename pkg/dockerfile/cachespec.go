package dockerfile

import (
	"encoding/csv"
	"fmt"
	"os"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// CacheSpec is one --cache-from or --cache-to, in buildx's spelling:
// type=registry,ref=REPO[,mode=min|max] (a bare REPO means that), or
// type=local,src=DIR / dest=DIR (an OCI layout folder, as buildx writes
// it). Steps are tagged by their cache key.
type CacheSpec struct {
	Type string // "" (none), "registry" or "local"
	Ref  string // registry: the repository
	Dir  string // local: the layout folder
	// Mode is what --cache-to exports: "max" (every step, the default
	// here) or "min" (the steps of the target stage only), as BuildKit.
	Mode string
}

func (c CacheSpec) String() string {
	if c.Type == "local" {
		return c.Dir
	}
	return c.Ref
}

// ParseCacheSpec reads --cache-from (to false) or --cache-to (to true).
// Types and attributes gantry cannot honour are refused, never ignored.
func ParseCacheSpec(s string, to bool) (CacheSpec, error) {
	flag := "--cache-from"
	if to {
		flag = "--cache-to"
	}
	if s == "" {
		return CacheSpec{}, nil
	}
	if !strings.Contains(s, "=") {
		return CacheSpec{Type: "registry", Ref: s, Mode: "max"}, nil
	}
	fields, err := csv.NewReader(strings.NewReader(s)).Read()
	if err != nil {
		return CacheSpec{}, fmt.Errorf("invalid %s %q: %v", flag, s, err)
	}
	c := CacheSpec{Type: "registry", Mode: "max"}
	for _, kv := range fields {
		k, v, _ := strings.Cut(kv, "=")
		switch {
		case k == "type":
			c.Type = v
		case k == "ref" && c.Type != "local":
			c.Ref = v
		case k == "src" && !to, k == "dest" && to:
			c.Dir = v
		case k == "mode" && to && (v == "min" || v == "max"):
			c.Mode = v
		case k == "ignore-error" || k == "oci-mediatypes" || k == "image-manifest" || k == "compression":
			// buildx's export tuning: gantry's cache is always OCI
			// images of the steps, and a failed export fails the build.
			return CacheSpec{}, fmt.Errorf("invalid %s %q: gantry does not take %s= (its cache is one OCI image per step)", flag, s, k)
		default:
			return CacheSpec{}, fmt.Errorf("invalid %s %q: %q is not an attribute gantry takes (type=registry,ref=REPO[,mode=min|max] or type=local,%s=DIR)", flag, s, kv, map[bool]string{true: "dest", false: "src"}[to])
		}
	}
	switch c.Type {
	case "registry":
		if c.Ref == "" {
			return CacheSpec{}, fmt.Errorf("invalid %s %q: type=registry needs ref=REPOSITORY", flag, s)
		}
	case "local":
		if c.Dir == "" {
			return CacheSpec{}, fmt.Errorf("invalid %s %q: type=local needs %s=DIR", flag, s, map[bool]string{true: "dest", false: "src"}[to])
		}
	case "inline":
		return CacheSpec{}, fmt.Errorf("invalid %s %q: gantry has no inline cache; use type=registry,ref=REPO (one image per step, tagged by its key) so that other runners share it", flag, s)
	default:
		return CacheSpec{}, fmt.Errorf("invalid %s %q: gantry's cache types are registry and local (not %s)", flag, s, c.Type)
	}
	return c, nil
}

// writeLocalCache adds a step's image to an OCI layout folder, named by key.
func writeLocalCache(dir, key string, img v1.Image) error {
	p, err := layout.FromPath(dir)
	if err != nil {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("--cache-to %s: %w", dir, err)
		}
		if p, err = layout.Write(dir, empty.Index); err != nil {
			return fmt.Errorf("--cache-to %s: %w", dir, err)
		}
	}
	if err := p.ReplaceImage(img, refNameIs(key), layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": key})); err != nil {
		return fmt.Errorf("--cache-to %s: %w", dir, err)
	}
	return nil
}

// readLocalCache finds the step image named key in an OCI layout folder.
func readLocalCache(dir, key string) (v1.Image, bool) {
	p, err := layout.FromPath(dir)
	if err != nil {
		return nil, false
	}
	idx, err := p.ImageIndex()
	if err != nil {
		return nil, false
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, false
	}
	for _, d := range im.Manifests {
		if d.Annotations["org.opencontainers.image.ref.name"] == key {
			img, err := p.Image(d.Digest)
			return img, err == nil
		}
	}
	return nil, false
}

func refNameIs(key string) func(v1.Descriptor) bool {
	return func(d v1.Descriptor) bool { return d.Annotations["org.opencontainers.image.ref.name"] == key }
}
