package main

import (
	"context"
	"os"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/gantry-build/gantry/pkg/platform"
	"github.com/gantry-build/gantry/pkg/progress"
	"github.com/gantry-build/gantry/pkg/registry"
	"github.com/gantry-build/gantry/pkg/store"
)

// globals are the flags every verb shares.
type globals struct {
	root     string
	insecure bool
	// Set by gantry executor from kaniko's flags.
	skipTLSVerify               bool
	mirrors, insecureRegistries []string
	retries                     int
	progress                    string
	quiet                       bool
	platform                    string
	jobs                        int
	ctx                         context.Context // the command's: interrupts stop what it started
}

func (g *globals) store() (*store.Store, error) {
	root := g.root
	if root == "" {
		var err error
		if root, err = store.DefaultRoot(); err != nil {
			return nil, err
		}
	}
	st, err := store.Open(root)
	if err != nil {
		return nil, err
	}
	// Whatever the verb, a base layer the store keeps lazily is fetched from
	// its registry when its bytes are needed (save, export, run, RUN).
	ctx := g.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	st.SetFetcher(ctx, func(ctx context.Context, repo string, d v1.Descriptor) (v1.Layer, error) {
		rc, err := g.registry()
		if err != nil {
			return nil, err
		}
		return rc.Layer(ctx, repo, d)
	})
	return st, nil
}

func (g *globals) registry() (*registry.Client, error) {
	cfg, err := registry.LoadConfig(registry.ConfigPath())
	if err != nil {
		return nil, err
	}
	cfg.Mirrors = append(g.mirrors, cfg.Mirrors...)
	cfg.Insecure = append(cfg.Insecure, g.insecureRegistries...)
	return registry.New(registry.Options{Config: cfg, Insecure: g.insecure, Jobs: g.jobs, SkipTLSVerify: g.skipTLSVerify,
		Retry: registry.RetryPolicy{Attempts: g.retries}})
}

// reporter writes progress to stderr so that stdout stays the result.
func (g *globals) reporter() (progress.Reporter, error) {
	mode := g.progress
	if g.quiet {
		mode = progress.ModeQuiet
	}
	return progress.New(mode, os.Stderr)
}

// wantPlatform is --platform, or nil for "this machine's".
func (g *globals) wantPlatform() (*v1.Platform, error) {
	if g.platform == "" {
		return nil, nil
	}
	p, err := platform.Parse(g.platform)
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// transferSetup opens what a registry transfer needs: the store, a registry
// client and the progress reporter (the caller closes it).
func (g *globals) transferSetup() (*store.Store, *registry.Client, progress.Reporter, error) {
	st, rc, err := g.storeAndRegistry()
	if err != nil {
		return nil, nil, nil, err
	}
	rep, err := g.reporter()
	if err != nil {
		return nil, nil, nil, err
	}
	return st, rc, rep, nil
}

// wantPlatforms is a comma-separated --platform list (build makes one image
// per platform), or nil for "this machine's".
func (g *globals) wantPlatforms() ([]v1.Platform, error) {
	if g.platform == "" {
		return nil, nil
	}
	var out []v1.Platform
	for _, s := range strings.Split(g.platform, ",") {
		p, err := platform.Parse(s)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// imageReader opens what verbs that read images by reference need: the
// store, a registry client (for images not stored) and --platform.
func (g *globals) imageReader() (*store.Store, *registry.Client, *v1.Platform, error) {
	want, err := g.wantPlatform()
	if err != nil {
		return nil, nil, nil, err
	}
	st, rc, err := g.storeAndRegistry()
	return st, rc, want, err
}

func (g *globals) storeAndRegistry() (*store.Store, *registry.Client, error) {
	st, err := g.store()
	if err != nil {
		return nil, nil, err
	}
	rc, err := g.registry()
	if err != nil {
		return nil, nil, err
	}
	return st, rc, nil
}
