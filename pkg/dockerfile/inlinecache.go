package dockerfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/gantry-build/gantry/pkg/config"
	"github.com/gantry-build/gantry/pkg/store"
	"github.com/gantry-build/gantry/pkg/transfer"
)

// The inline cache, as BuildKit's: --cache-to type=inline (or --build-arg
// BUILDKIT_INLINE_CACHE=1) writes into the built image's config the cache
// key of each step whose layer the image holds, and --cache-from IMAGE
// reads them back on another runner. A step's image is the image so far
// plus one layer and one history line, so an entry needs only the key and
// how many layers and history lines the image had after the step: on a hit
// the engine appends the cache image's layer and line to the image it has
// (whose digest the key holds) and gets the step's image byte for byte.
//
// The entries live in a top-level field of the config JSON, which Docker,
// BuildKit, containerd and skopeo ignore; the image stays reproducible (the
// keys are digests of the inputs). BuildKit's own field,
// moby.buildkit.cache.v0, holds BuildKit's keys, which gantry's steps do
// not have.
const (
	inlineCacheField   = "gantry.cache.v1"
	buildkitCacheField = "moby.buildkit.cache.v0"
)

// inlineStep is one entry of an inline cache.
type inlineStep struct {
	Key     string `json:"key"`     // the step's cache key (stepKey)
	Layers  int    `json:"layers"`  // the image's layers after the step
	History int    `json:"history"` // its history lines after the step
}

type inlineCache struct {
	Steps []inlineStep `json:"steps"`
}

var (
	errNoInlineCache       = errors.New("no inline cache in its config")
	errBuildKitInlineCache = errors.New("its config carries BuildKit's inline cache, whose keys are BuildKit's, not gantry's")
)

// WritesInlineCache tells whether the built image carries an inline cache:
// --cache-to type=inline, or --build-arg BUILDKIT_INLINE_CACHE=1 (a value
// strconv.ParseBool reads as true, as buildx reads it).
func (o DockerfileOptions) WritesInlineCache() bool {
	if o.CacheTo.Type == "inline" {
		return true
	}
	on, err := strconv.ParseBool(o.BuildArgs["BUILDKIT_INLINE_CACHE"])
	return err == nil && on
}

// recordInline notes, when the build writes an inline cache, that the
// stage's image now ends with the step keyed key (its result adopted).
func (s *stageState) recordInline(key string) {
	if key == "" || !s.b.o.WritesInlineCache() {
		return
	}
	s.inline = append(s.inline, inlineStep{Key: key, Layers: len(s.conf.File.RootFS.DiffIDs), History: len(s.conf.File.History)})
}

// addInlineCache is img with steps in its config: the raw JSON gains one
// field, byte for byte otherwise (go-containerregistry's ConfigFile would
// drop fields it does not know).
func addInlineCache(img v1.Image, steps []inlineStep) (v1.Image, error) {
	raw, err := img.RawConfigFile()
	if err != nil {
		return nil, err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, fmt.Errorf("inline cache: the image config: %w", err)
	}
	if fields == nil { // the config was JSON null
		fields = map[string]json.RawMessage{}
	}
	if steps == nil {
		steps = []inlineStep{}
	}
	entry, err := json.Marshal(inlineCache{Steps: steps})
	if err != nil {
		return nil, err
	}
	var out []byte
	if _, ok := fields[inlineCacheField]; ok || len(fields) == 0 {
		// An empty config, or one with the field already (the engine
		// makes neither: its configs come from ConfigFile): marshalled
		// whole, the field replaced.
		fields[inlineCacheField] = entry
		if out, err = json.Marshal(fields); err != nil {
			return nil, err
		}
	} else {
		trimmed := bytes.TrimRight(raw, " \t\r\n")
		out = append(append(append(trimmed[:len(trimmed)-1:len(trimmed)-1], `,"`+inlineCacheField+`":`...), entry...), '}')
	}
	return config.WithRawConfig(img, out)
}

// readInlineCache reads the inline cache of a raw image config:
// errNoInlineCache or errBuildKitInlineCache when there is none of
// gantry's, another error when it is damaged. A damaged entry reuses
// nothing (it is never half read).
func readInlineCache(raw []byte) ([]inlineStep, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, fmt.Errorf("the image config: %w", err)
	}
	field, ok := fields[inlineCacheField]
	if !ok {
		if _, bk := fields[buildkitCacheField]; bk {
			return nil, errBuildKitInlineCache
		}
		return nil, errNoInlineCache
	}
	var c inlineCache
	if err := json.Unmarshal(field, &c); err != nil {
		return nil, fmt.Errorf("its inline cache (%s) is damaged: %w", inlineCacheField, err)
	}
	for _, e := range c.Steps {
		if !isCacheKey(e.Key) || e.Layers < 1 || e.History < 1 {
			return nil, fmt.Errorf("its inline cache (%s) is damaged: entry %+v is not a sha256 key with counts of layers and history lines", inlineCacheField, e)
		}
	}
	return c.Steps, nil
}

// isCacheKey: stepKey's form, 64 lower-case hex digits.
func isCacheKey(k string) bool {
	if len(k) != 64 {
		return false
	}
	for _, c := range k {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// inlineHit is the image of the step that entry e of the cache image src
// describes, made on parent (the image before the step, whose digest the
// key holds): parent plus src's layer and history line. An entry that does
// not continue parent exactly as src does (counts, layers, the history
// line's instruction) is refused: a damaged cache never gives a wrong hit.
func inlineHit(parent, src v1.Image, e inlineStep, createdBy string) (v1.Image, error) {
	pcf, err := parent.ConfigFile()
	if err != nil {
		return nil, err
	}
	scf, err := src.ConfigFile()
	if err != nil {
		return nil, err
	}
	pm, err := parent.Manifest()
	if err != nil {
		return nil, err
	}
	sm, err := src.Manifest()
	if err != nil {
		return nil, err
	}
	n, h := e.Layers, e.History
	switch {
	case n > len(sm.Layers) || n > len(scf.RootFS.DiffIDs) || h > len(scf.History):
		return nil, fmt.Errorf("the entry names layer %d and history line %d of an image with %d and %d", n, h, len(sm.Layers), len(scf.History))
	case len(pm.Layers) != n-1 || len(pcf.History) != h-1:
		return nil, fmt.Errorf("the entry follows %d layers and %d history lines, the image so far has %d and %d", n-1, h-1, len(pm.Layers), len(pcf.History))
	case scf.History[h-1].EmptyLayer || scf.History[h-1].CreatedBy != createdBy:
		return nil, fmt.Errorf("its history line is %q, not this step's %q", scf.History[h-1].CreatedBy, createdBy)
	}
	for i, l := range pm.Layers {
		if l.Digest != sm.Layers[i].Digest {
			return nil, fmt.Errorf("layer %d is %s in the cache image, %s here", i+1, sm.Layers[i].Digest, l.Digest)
		}
	}
	layers, err := src.Layers()
	if err != nil {
		return nil, err
	}
	return mutate.Append(parent, mutate.Addendum{Layer: layers[n-1], MediaType: sm.Layers[n-1].MediaType, History: scf.History[h-1]})
}

// inlineSource is the image a registry --cache-from names and its inline
// cache, read once per build and platform (its manifest and config only).
type inlineSource struct {
	ref   string // as --cache-from names it
	img   v1.Image
	steps map[string]inlineStep
}

// inlineFrom reads the inline cache of --cache-from: REF:TAG or @DIGEST
// (an image; a note says why nothing comes of it when nothing does), or,
// for a bare REPO (a repository of step tags), REPO:latest when it has one,
// as BuildKit reads a bare --cache-from.
func (b *dfBuild) inlineFrom() []*inlineSource {
	b.inlineOnce.Do(func() {
		for _, from := range b.o.CacheFrom {
			if src := b.readInlineSource(from); src != nil {
				b.inlineSrcs = append(b.inlineSrcs, src)
			}
		}
	})
	return b.inlineSrcs
}

// readInlineSource reads one registry --cache-from's inline cache, nil
// when it has none.
func (b *dfBuild) readInlineSource(from CacheSpec) *inlineSource {
	if from.Type != "registry" {
		return nil
	}
	ref, named := from.Ref, from.isImage()
	if !named {
		ref += ":latest"
	}
	note := func(why error) {
		b.o.Progress.Printf("--cache-from %s: %v; nothing is reused from it", ref, why)
	}
	rm, err := transfer.RemoteImage(b.ctx, b.rc, ref, &b.platform)
	if err != nil {
		if named {
			note(err)
		}
		return nil
	}
	raw, err := rm.Image.RawConfigFile()
	if err != nil {
		note(err)
		return nil
	}
	steps, err := readInlineCache(raw)
	switch {
	case errors.Is(err, errNoInlineCache):
		note(fmt.Errorf("%w (build it with --cache-to type=inline)", err))
		return nil
	case err != nil:
		note(err)
		return nil
	}
	src := &inlineSource{ref: ref, img: rm.Image, steps: map[string]inlineStep{}}
	for _, e := range steps {
		if _, dup := src.steps[e.Key]; !dup {
			src.steps[e.Key] = e
		}
	}
	return src
}

// fromInlineCache is the step keyed key taken from the --cache-from image's
// inline cache, stored and remembered under key as any cached step; its
// layer stays in the registry until something needs its bytes (a push
// mounts it).
func (s *stageState) fromInlineCache(id, key, createdBy string) (img v1.Image, source string, ok bool) {
	b := s.b
	for _, src := range b.inlineFrom() {
		e, ok := src.steps[key]
		if !ok {
			continue
		}
		parent, err := s.image()
		if err != nil {
			return nil, "", false
		}
		img, err := inlineHit(parent, src.img, e, createdBy)
		if err == nil {
			var desc v1.Descriptor
			if desc, err = b.st.WriteImage(b.ctx, img, store.WriteOptions{Jobs: b.rc.Jobs(), Progress: b.o.Progress, Lazy: true}); err == nil {
				if err = b.rememberStep(key, desc.Digest); err == nil {
					img, err = b.st.Image(desc.Digest)
				}
			}
		}
		if err != nil {
			b.o.Progress.Log(id, "the inline cache of --cache-from "+src.ref+" has this step's key, not used: "+err.Error())
			continue
		}
		return img, src.ref, true
	}
	return nil, "", false
}
