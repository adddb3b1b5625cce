package dockerfile

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/gantry-build/gantry/pkg/layer"
	"github.com/gantry-build/gantry/pkg/store"
	"github.com/gantry-build/gantry/pkg/transfer"
)

// cachedLayer appends the layer make builds, or the cached result of an
// identical earlier step.
func (s *stageState) cachedLayer(label string, keyOf func() (string, error), createdBy string, make func() (layer.Built, error)) (err error) {
	b := s.b
	key, err := keyOf()
	if err != nil {
		return err
	}
	id, name, _ := strings.Cut(label, " ")
	rep := b.o.Progress
	rep.Step(id, name)
	if key != "" {
		// The same step (same parent, instruction, args, platform and
		// inputs) in another stage of this build runs once, as BuildKit
		// merges identical vertices, with or without --no-cache.
		f, first := b.claimStep(key)
		if !first {
			<-f.done
			if f.err != nil {
				rep.Fail(id, f.err)
				return f.err
			}
			rep.StepDone(id, true)
			return s.adoptStep(key, f.img)
		}
		defer func() { f.finish(s.img, err) }()
	}
	if !b.o.NoCache && key != "" {
		if img, ok := b.lookupStep(key); ok {
			// --cache-to exports every step the build used, found here or
			// built: a warm store still fills an empty cache.
			if err := b.exportStep(s.index, key, img); err != nil {
				rep.Fail(id, err)
				return err
			}
			rep.StepDone(id, true)
			return s.adoptStep(key, img)
		}
		img, from, ok := s.fromInlineCache(id, key, createdBy)
		if ok {
			if err := b.exportStep(s.index, key, img); err != nil {
				rep.Fail(id, err)
				return err
			}
		} else {
			img, from, ok = b.remoteStep(key)
		}
		if ok {
			rep.Log(id, "CACHED (from "+from+")")
			rep.StepDone(id, true)
			return s.adoptStep(key, img)
		}
	}
	b.prepareRuns()
	built, err := make()
	if err != nil {
		rep.Fail(id, err)
		return err
	}
	defer rep.StepDone(id, false)
	l, err := layer.Open(b.st, built)
	if err != nil {
		return err
	}
	withConfig, err := s.image()
	if err != nil {
		return err
	}
	img, err := layer.Append(withConfig, mutate.Addendum{Layer: l, MediaType: built.Descriptor.MediaType,
		History: v1.History{Created: v1.Time{Time: b.o.Created}, CreatedBy: createdBy, Comment: "buildkit.dockerfile.v0"}})
	if err != nil {
		return err
	}
	if key == "" {
		// The key could not be known before; it can now (a COPY whose files
		// were hashed while the layer was written). The key is of the step's
		// start, so it is taken before adopting the result.
		if key, err = keyOf(); err != nil {
			return err
		}
	}
	if key != "" {
		if err := b.saveStep(s.index, key, img); err != nil {
			return err
		}
	}
	return s.adoptStep(key, img)
}

func fixedKey(key string, err error) func() (string, error) {
	return func() (string, error) { return key, err }
}

// adoptStep makes a step's image the stage's, and notes it for the inline
// cache.
func (s *stageState) adoptStep(key string, img v1.Image) error {
	if err := s.adopt(img); err != nil {
		return err
	}
	s.recordInline(key)
	return nil
}

func (s *stageState) adopt(img v1.Image) error {
	cf, err := img.ConfigFile()
	if err != nil {
		return err
	}
	s.img, s.conf.File = img, cf.DeepCopy()
	return nil
}

// stepKey is the cache key of a step: what it starts from (the image so
// far, config included), the instruction, the build args in scope, the
// platform, the layer compression (a step's image has its layer's blob and
// media type) and the content it reads.
func (s *stageState) stepKey(cmd instructions.Command, extra ...string) (string, error) {
	img, err := s.image()
	if err != nil {
		return "", err
	}
	parent, err := img.Digest()
	if err != nil {
		return "", err
	}
	h := sha256.New()
	fmt.Fprintf(h, "gantry-step-v1\n%s\n%s\ncompression=%s\n%s\n", parent, platformKey(s.platform), s.b.o.Compression, cmd)
	keys := make([]string, 0, len(s.args))
	for k := range s.args {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(h, "arg %s=%s\n", k, s.args[k])
	}
	for _, e := range extra {
		fmt.Fprintf(h, "%s\n", e)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func platformKey(p v1.Platform) string { return p.OS + "/" + p.Architecture + "/" + p.Variant }

// lookupStep finds the image an identical step made before.
func (b *dfBuild) lookupStep(key string) (v1.Image, bool) {
	raw, err := os.ReadFile(filepath.Join(b.st.CacheDir(store.CacheSteps), key))
	if err != nil {
		return nil, false
	}
	h, err := v1.NewHash(strings.TrimSpace(string(raw)))
	if err != nil {
		return nil, false
	}
	img, err := b.st.Image(h)
	if err != nil {
		return nil, false
	}
	m, err := img.Manifest()
	if err != nil || !b.st.HasBlob(m.Config.Digest) {
		return nil, false
	}
	for _, l := range m.Layers {
		if _, lazy := b.st.BlobSource(l.Digest); !b.st.HasBlob(l.Digest) && !lazy {
			return nil, false // pruned since
		}
	}
	return img, true
}

// remoteStep fetches a step result from the first --cache-from that has
// it (a registry repository or an OCI layout folder), and says which.
func (b *dfBuild) remoteStep(key string) (img v1.Image, source string, ok bool) {
	for _, from := range b.o.CacheFrom {
		if img, ok = b.remoteStepFrom(from, key); ok {
			return img, from.String(), true
		}
	}
	return nil, "", false
}

func (b *dfBuild) remoteStepFrom(from CacheSpec, key string) (v1.Image, bool) {
	var img v1.Image
	switch {
	case from.Type == "":
		return nil, false
	case from.Type == "local":
		var ok bool
		if img, ok = readLocalCache(from.Dir, key); !ok {
			return nil, false
		}
	case from.isImage():
		return nil, false // an image, not a repository of step tags: its inline cache only (fromInlineCache)
	default:
		ref, err := b.rc.ParseReference(from.Ref + ":" + key)
		if err != nil {
			return nil, false
		}
		desc, err := b.rc.Get(b.ctx, ref)
		if err != nil || !desc.MediaType.IsImage() {
			return nil, false // a miss, or an unreachable cache: build instead
		}
		if img, err = desc.Image(); err != nil {
			return nil, false
		}
	}
	// Lazily, as a base: a step image from a registry keeps its layers
	// there until something needs their bytes (a RUN on it, save, export);
	// a build that only pushes moves none of them.
	stored, err := b.st.WriteImage(b.ctx, img, store.WriteOptions{Jobs: b.rc.Jobs(), Progress: b.o.Progress, Lazy: true})
	if err != nil {
		return nil, false
	}
	if err := b.rememberStep(key, stored.Digest); err != nil {
		return nil, false
	}
	img, err = b.st.Image(stored.Digest)
	return img, err == nil
}

// saveStep stores the step's image, remembers it under key and, with
// --cache-to, pushes it there tagged by the key.
func (b *dfBuild) saveStep(stage int, key string, img v1.Image) error {
	desc, err := b.st.WriteImage(b.ctx, img, store.WriteOptions{})
	if err != nil {
		return err
	}
	if err := b.exportStep(stage, key, img); err != nil {
		return err
	}
	return b.rememberStep(key, desc.Digest)
}

// exportStep sends a step's image to --cache-to, tagged by its key: a
// registry repository (through the one push path: mounts and skips) or an
// OCI layout folder.
func (b *dfBuild) exportStep(stage int, key string, img v1.Image) error {
	to := b.o.CacheTo
	switch {
	case to.Type == "", to.Type == "inline", to.Mode == "min" && stage != b.target:
		return nil // inline: the final image carries the keys (inlinecache.go)
	case to.Type == "local":
		return writeLocalCache(to.Dir, key, img)
	}
	if _, err := transfer.PushImage(b.ctx, b.rc, img, to.Ref+":"+key, transfer.PushOptions{Store: b.st}); err != nil {
		return fmt.Errorf("--cache-to %s: %w", to.Ref, err)
	}
	return nil
}

func (b *dfBuild) rememberStep(key string, h v1.Hash) error {
	dir := b.st.CacheDir(store.CacheSteps)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, key), []byte(h.String()), 0o644)
}

// stepFuture is a step of this build being made, by its cache key.
type stepFuture struct {
	done chan struct{}
	img  v1.Image // the step's image, once done without err
	err  error
}

// claimStep returns the step of key in this build, and whether the caller
// is the first to ask and so makes it.
func (b *dfBuild) claimStep(key string) (f *stepFuture, first bool) {
	b.stepsMu.Lock()
	defer b.stepsMu.Unlock()
	if f, ok := b.steps[key]; ok {
		return f, false
	}
	if b.steps == nil {
		b.steps = map[string]*stepFuture{}
	}
	f = &stepFuture{done: make(chan struct{})}
	b.steps[key] = f
	return f, true
}

func (f *stepFuture) finish(img v1.Image, err error) {
	f.img, f.err = img, err
	close(f.done)
}
