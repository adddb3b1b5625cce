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
// it): steps are tagged by their cache key. --cache-to type=inline writes
// the keys of the target's steps into the image's own config instead, and
// --cache-from REF:TAG (or @DIGEST) reads them from there (inlinecache.go).
type CacheSpec struct {
	Type string // "" (none), "registry", "local" or "inline" (--cache-to)
	Ref  string // registry: the repository, or (--cache-from) an image
	Dir  string // local: the layout folder
	// Mode is what --cache-to exports: "max" (every step, the default
	// here) or "min" (the steps of the target stage only), as BuildKit;
	// inline is always min.
	Mode string
}

func (c CacheSpec) String() string {
	switch c.Type {
	case "local":
		return c.Dir
	case "inline":
		return "type=inline"
	}
	return c.Ref
}

// isImage tells whether a registry --cache-from names an image (a tag or
// digest: its config may carry an inline cache) rather than a repository
// of step tags. The tag is after the last slash: a registry's port is not.
func (c CacheSpec) isImage() bool {
	return c.Type == "registry" && refHasTagOrDigest(c.Ref)
}

func refHasTagOrDigest(ref string) bool {
	last := ref[strings.LastIndex(ref, "/")+1:]
	return strings.ContainsAny(last, ":@")
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
	var c CacheSpec
	if !strings.Contains(s, "=") {
		c = CacheSpec{Type: "registry", Ref: s, Mode: "max"}
	} else {
		fields, err := csv.NewReader(strings.NewReader(s)).Read()
		if err != nil {
			return CacheSpec{}, fmt.Errorf("invalid %s %q: %v", flag, s, err)
		}
		c = CacheSpec{Type: "registry"}
		var attrs []string // what type=inline does not take
		for _, kv := range fields {
			k, v, _ := strings.Cut(kv, "=")
			switch {
			case k == "type":
				c.Type = v
				continue
			case k == "ref" && c.Type != "local":
				c.Ref = v
			case k == "src" && !to, k == "dest" && to:
				c.Dir = v
			case k == "mode" && to && (v == "min" || v == "max"):
				c.Mode = v
				continue
			case k == "ignore-error" || k == "oci-mediatypes" || k == "image-manifest" || k == "compression":
				// buildx's export tuning: gantry's cache is always OCI
				// images of the steps, and a failed export fails the build.
				return CacheSpec{}, fmt.Errorf("invalid %s %q: gantry does not take %s= (its cache is one OCI image per step)", flag, s, k)
			default:
				return CacheSpec{}, fmt.Errorf("invalid %s %q: %q is not an attribute gantry takes (type=registry,ref=REPO[,mode=min|max], type=local,%s=DIR%s)", flag, s, kv, map[bool]string{true: "dest", false: "src"}[to], map[bool]string{true: " or type=inline", false: ""}[to])
			}
			attrs = append(attrs, k+"=")
		}
		if c.Type == "inline" && len(attrs) > 0 {
			return CacheSpec{}, fmt.Errorf("invalid %s %q: type=inline takes no %s (the cache travels in the image's config, to wherever the image goes)", flag, s, strings.Join(attrs, ", "))
		}
	}
	switch c.Type {
	case "registry":
		if c.Ref == "" {
			return CacheSpec{}, fmt.Errorf("invalid %s %q: type=registry needs ref=REPOSITORY", flag, s)
		}
		if to && refHasTagOrDigest(c.Ref) {
			// gantry tags each step by its key: REPO:KEY.
			return CacheSpec{}, fmt.Errorf("invalid %s %q: ref= must be a repository without a tag or digest (gantry tags each step REPO:KEY); or write the cache into the image with --cache-to type=inline", flag, s)
		}
	case "local":
		if c.Dir == "" {
			return CacheSpec{}, fmt.Errorf("invalid %s %q: type=local needs %s=DIR", flag, s, map[bool]string{true: "dest", false: "src"}[to])
		}
	case "inline":
		if !to {
			return CacheSpec{}, fmt.Errorf("invalid %s %q: an inline cache is read from the image that carries it: --cache-from REF:TAG (or type=registry,ref=REF:TAG)", flag, s)
		}
		if c.Mode == "max" {
			return CacheSpec{}, fmt.Errorf("invalid %s %q: an inline cache holds the steps of the image it rides in only (mode=min); for mode=max use type=registry,ref=REPO,mode=max", flag, s)
		}
		c.Mode = "min"
	default:
		return CacheSpec{}, fmt.Errorf("invalid %s %q: gantry's cache types are registry, local and inline (not %s)", flag, s, c.Type)
	}
	if c.Mode == "" {
		c.Mode = "max"
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
