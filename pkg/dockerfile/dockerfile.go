package dockerfile

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/patternmatcher"

	"github.com/gantry-build/gantry/pkg/cgroup"
	"github.com/gantry-build/gantry/pkg/config"
	"github.com/gantry-build/gantry/pkg/images"
	"github.com/gantry-build/gantry/pkg/layer"
	"github.com/gantry-build/gantry/pkg/platform"
	"github.com/gantry-build/gantry/pkg/progress"
	"github.com/gantry-build/gantry/pkg/registry"
	"github.com/gantry-build/gantry/pkg/rootfs"
	"github.com/gantry-build/gantry/pkg/sandbox"
	"github.com/gantry-build/gantry/pkg/store"
	"github.com/gantry-build/gantry/pkg/transfer"
)

// DockerfileOptions describe gantry build CONTEXT.
type DockerfileOptions struct {
	Context    string
	Dockerfile string // default CONTEXT/Dockerfile
	BuildArgs  map[string]string
	Target     string
	Platforms  []v1.Platform
	NoCache    bool
	Secrets    map[string]string // RUN --mount=type=secret id → host file; never in a layer or cache key
	SSH        map[string]string // RUN --mount=type=ssh id → ssh-agent socket on the host
	Labels     map[string]string // docker build --label: set on the final image, no history line
	Network    string            // docker build --network: default, host or none for RUN steps without --network
	Pull       bool              // docker build --pull: look for a newer version of every base image
	AddHosts   []string          // docker build --add-host NAME:IP, in RUN steps' /etc/hosts
	// Contexts are buildx's --build-context NAME=DIR|docker-image://REF:
	// what COPY --from=NAME (or RUN --mount from=NAME) reads, or the image
	// FROM NAME means.
	Contexts map[string]string
	// CacheFrom and CacheTo hold step results tagged by cache key, shared
	// between machines (kaniko's --cache-repo): a registry repository or
	// an OCI layout folder.
	// CacheFrom are tried in order (buildx takes several --cache-from).
	CacheFrom []CacheSpec
	CacheTo   CacheSpec
	// Isolation of RUN steps: auto (""), sandbox, or container (the build
	// container is the isolation), resolved at the first RUN.
	Isolation sandbox.Isolation
	// HostKeep are further paths of the build container that RUN in the
	// container isolation leaves alone (kaniko's --ignore-path); Cleanup
	// empties the container's root filesystem after the build (--cleanup).
	HostKeep []string
	Ulimits  []sandbox.Ulimit // docker build --ulimit, for every RUN step
	// Limits are every RUN step's cgroup limits (--memory, --pids-limit …);
	// like --ulimit, they are no part of a step's cache key, as with docker.
	Limits  cgroup.Limits
	Cleanup bool
	// Squash puts what the target stage adds over its FROM image into one
	// layer (docker build --squash, kaniko's --single-snapshot).
	Squash      bool
	Created     time.Time
	Compression string
	Progress    progress.Reporter
}

// FromDockerfile builds what docker build builds.
func FromDockerfile(ctx context.Context, st *store.Store, rc *registry.Client, o DockerfileOptions) (images.Artifact, error) {
	if o.Dockerfile == "" {
		o.Dockerfile = filepath.Join(o.Context, "Dockerfile")
	}
	// A missing Dockerfile falls back to "dockerfile" beside it, as
	// BuildKit's dockerui does for the default name (moby/moby#10858).
	if filepath.Base(o.Dockerfile) == "Dockerfile" && !exists(o.Dockerfile) {
		if lower := filepath.Join(filepath.Dir(o.Dockerfile), "dockerfile"); exists(lower) {
			o.Dockerfile = lower
		}
	}
	if o.Squash && o.WritesInlineCache() {
		return images.Artifact{}, errors.New("--squash with --cache-to type=inline: the squashed image no longer holds the steps' layers that an inline cache names; use --cache-to type=registry,ref=REPO (or type=local) with --squash")
	}
	stages, metaArgs, escape, err := parseDockerfile(o.Dockerfile)
	if err != nil {
		return images.Artifact{}, err
	}
	// Prune waits for the build: it would remove the blobs and unpacked
	// trees the steps stand on.
	done, err := st.Writing()
	if err != nil {
		return images.Artifact{}, err
	}
	defer done()
	if o.Compression == "" {
		o.Compression = "gzip"
	}
	if o.Progress == nil {
		o.Progress = progress.Nop()
	}
	if unused := unusedBuildArgs(stages, metaArgs, o.BuildArgs); len(unused) > 0 {
		// As docker build warns: a misspelt --build-arg changes nothing.
		o.Progress.Printf("[Warning] One or more build-args %v were not consumed", unused)
	}
	ignore, err := contextIgnore(o)
	if err != nil {
		return images.Artifact{}, err
	}
	target := len(stages) - 1
	if o.Target != "" {
		if target = stageIndex(stages, o.Target); target < 0 {
			return images.Artifact{}, fmt.Errorf("--target %s: no stage of that name in %s", o.Target, o.Dockerfile)
		}
	}
	platforms := o.Platforms
	if len(platforms) == 0 {
		platforms = []v1.Platform{platform.Host()}
	}
	// One network namespace (one pasta) for every RUN step of the build
	// on the default network, made when the first one runs.
	network := sandbox.NewSharedNetwork()
	defer network.Close()
	var built []v1.Image
	for i, p := range platforms {
		if i > 0 {
			// Expansion rewrites the instructions in place: each platform
			// gets its own parse.
			if stages, metaArgs, escape, err = parseDockerfile(o.Dockerfile); err != nil {
				return images.Artifact{}, err
			}
		}
		b := &dfBuild{ctx: ctx, st: st, rc: rc, o: o, stages: stages, escape: escape, platform: p, ignore: ignore, pulled: map[string]bool{},
			started: map[int]*stageFuture{}, cache: rootfs.NewCache(st.RootfsCache()), network: network}
		b.target = target
		if b.meta, err = b.metaArgs(metaArgs); err != nil {
			return images.Artifact{}, err
		}
		if err := b.checkStages(); err != nil {
			return images.Artifact{}, err
		}
		s, err := b.buildTarget(target)
		if b.hosts != "" {
			os.Remove(b.hosts)
		}
		if b.host != nil && o.Cleanup {
			if cerr := b.host.Clean(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			return images.Artifact{}, err
		}
		normalizePlatform(s.conf.File)
		img, err := s.image()
		if err != nil {
			return images.Artifact{}, err
		}
		if o.Squash {
			if img, err = b.squash(s, img); err != nil {
				return images.Artifact{}, fmt.Errorf("--squash: %w", err)
			}
		}
		if img, err = withLabels(img, o.Labels); err != nil {
			return images.Artifact{}, err
		}
		if img, err = config.WithStartInterval(img, s.conf.StartInterval); err != nil {
			return images.Artifact{}, err
		}
		if o.WritesInlineCache() {
			// Last: the config is raw JSON from here on.
			if img, err = addInlineCache(img, s.inline); err != nil {
				return images.Artifact{}, err
			}
		}
		built = append(built, img)
	}
	if len(built) == 1 {
		return images.Artifact{Image: built[0]}, nil
	}
	return images.Combine(built)
}

// normalizePlatform spells the result's platform in containerd's normal
// form, as BuildKit does at the end of its dispatch (an arm64/v8 base gives
// an arm64 image without a variant).
func normalizePlatform(cf *v1.ConfigFile) {
	if cf.OS == "" && cf.Architecture == "" {
		return // no platform to spell (images crane appended on scratch)
	}
	p := platform.Normalize(v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant})
	cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
}

// withLabels sets docker build's --label values on the final image, as
// BuildKit does: in the config, without a history entry.
func withLabels(img v1.Image, labels map[string]string) (v1.Image, error) {
	if len(labels) == 0 {
		return img, nil
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	if cf.Config.Labels == nil {
		cf.Config.Labels = map[string]string{}
	}
	for k, v := range labels {
		cf.Config.Labels[k] = v
	}
	return mutate.ConfigFile(img, cf)
}

// dfBuild is one Dockerfile build for one platform.
type dfBuild struct {
	network  *sandbox.SharedNetwork // the RUN steps' default network
	ctx      context.Context
	st       *store.Store
	rc       *registry.Client
	o        DockerfileOptions
	stages   []instructions.Stage
	escape   rune
	platform v1.Platform
	meta     map[string]string // args declared before the first FROM
	deps     [][]int           // the stages each stage reads (FROM, COPY --from)
	target   int               // the stage the build makes
	cache    *rootfs.Cache
	step     atomic.Int64
	ignore   *patternmatcher.PatternMatcher // the context's .dockerignore

	// Stages build at the same time: what they share is guarded by mu.
	mu          sync.Mutex
	started     map[int]*stageFuture // stages begun, by index
	pulled      map[string]bool      // bases refreshed for --pull
	hosts       string               // /etc/hosts for RUN with --add-host, made once
	isoMu       sync.Mutex
	iso         sandbox.Isolation // RUN's isolation, resolved at the first RUN (under isoMu)
	prepareOnce sync.Once         // prepareRuns
	host        *sandbox.HostRoot // the container isolation's root, made at the first RUN
	hostMu      sync.Mutex        // the container's root is one: its RUN steps take turns
	stepsMu     sync.Mutex
	steps       map[string]*stepFuture // steps of this build, by cache key: each runs once

	inlineOnce sync.Once
	inlineSrcs []*inlineSource // the inline caches of --cache-from, read at the first step
}

// stageFuture is a stage being built or built.
type stageFuture struct {
	done chan struct{}
	s    *stageState
	err  error
}

// ignoreOf is what a COPY or RUN --mount source leaves out: the build
// context's .dockerignore (from ""), a named folder context's own (as
// BuildKit reads it), nothing for stages and images.
func (b *dfBuild) ignoreOf(from string) (*patternmatcher.PatternMatcher, error) {
	if from == "" {
		return b.ignore, nil
	}
	dir, ok := b.o.Contexts[from]
	if !ok || strings.HasPrefix(dir, "docker-image://") || stageIndex(b.stages, from) >= 0 {
		return nil, nil
	}
	return layer.ReadIgnoreFile(filepath.Join(dir, ".dockerignore"))
}

// base resolves an image a FROM or COPY --from names; with --pull, the
// registry is asked for a newer version first (once per build and name).
func (b *dfBuild) base(name string, want *v1.Platform) (v1.Image, error) {
	if c, ok := b.o.Contexts[name]; ok {
		ref, isImage := strings.CutPrefix(c, "docker-image://")
		if !isImage {
			return nil, fmt.Errorf("--build-context %s is a folder: COPY --from=%s and RUN --mount from=%s read it, FROM cannot", name, name, name)
		}
		name = ref
	}
	if b.o.Pull && name != "scratch" {
		b.mu.Lock()
		pulled := b.pulled[name]
		b.pulled[name] = true
		b.mu.Unlock()
		if !pulled {
			if _, err := transfer.Pull(b.ctx, b.st, b.rc, name, transfer.PullOptions{Platform: want, Progress: b.o.Progress}); err != nil {
				return nil, fmt.Errorf("--pull %s: %w", name, err)
			}
		}
	}
	return images.Resolve(b.ctx, b.st, b.rc, name, want)
}

// contextIgnore reads what the context leaves out: the Dockerfile's own
// ignore file (Dockerfile.dockerignore beside it) if there is one, as
// BuildKit reads it, else the context's .dockerignore.
func contextIgnore(o DockerfileOptions) (*patternmatcher.PatternMatcher, error) {
	if own := o.Dockerfile + ".dockerignore"; exists(own) {
		return layer.ReadIgnoreFile(own)
	}
	return layer.ReadIgnoreFile(filepath.Join(o.Context, ".dockerignore"))
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// buildTarget builds the target stage and every stage it needs, as BuildKit
// schedules them: as a graph, stages that do not depend on each other at
// the same time.
func (b *dfBuild) buildTarget(target int) (*stageState, error) {
	needed := map[int]bool{}
	var visit func(i int)
	visit = func(i int) {
		if needed[i] {
			return
		}
		needed[i] = true
		for _, d := range b.deps[i] {
			visit(d)
		}
	}
	visit(target)
	for i := range needed {
		if i != target {
			go b.stage(i) // its result is waited for where it is needed
		}
	}
	s, err := b.stage(target)
	// A failed build waits for the stages still running: nothing of it may
	// outlive the call.
	for i := range needed {
		b.stage(i)
	}
	return s, err
}

// stage builds stage i once (other callers wait for that build), after
// the stages it reads.
func (b *dfBuild) stage(i int) (*stageState, error) {
	b.mu.Lock()
	if f, ok := b.started[i]; ok {
		b.mu.Unlock()
		<-f.done
		return f.s, f.err
	}
	f := &stageFuture{done: make(chan struct{})}
	b.started[i] = f
	b.mu.Unlock()
	f.s, f.err = b.buildStage(i)
	close(f.done)
	return f.s, f.err
}

func (b *dfBuild) buildStage(i int) (*stageState, error) {
	if err := b.ctx.Err(); err != nil {
		return nil, err
	}
	// The stages this one reads start (or are waited for) first, all at once.
	var wg sync.WaitGroup
	for _, d := range b.deps[i] {
		wg.Add(1)
		go func() { defer wg.Done(); b.stage(d) }()
	}
	wg.Wait()
	st := b.stages[i]
	name := st.Name
	if name == "" {
		name = strconv.Itoa(i)
	}
	s := &stageState{b: b, name: name, index: i, args: map[string]string{}}
	if err := s.from(i, st); err != nil {
		return nil, fmt.Errorf("stage %s: FROM %s: %w", name, st.BaseName, err)
	}
	for i, cmd := range st.Commands {
		s.rest = st.Commands[i+1:]
		if err := s.run(cmd); err != nil {
			return nil, err
		}
	}
	return s, nil
}
