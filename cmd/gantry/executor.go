package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gantry-build/gantry/pkg/dockerfile"
	"github.com/gantry-build/gantry/pkg/images"
	"github.com/gantry-build/gantry/pkg/publish"
)

// kanikoFlags is kaniko executor's command line, which gantry executor
// takes unchanged so that a CI job moves from kaniko by changing its image.
type kanikoFlags struct {
	context, dockerfile, target, tarPath        string
	destinations, buildArgs, labels, ignorePath []string
	cache, noPush, reproducible, singleSnapshot bool
	cacheRepo, cacheTTL, cacheDir               string
	digestFile, nameDigestFile, nameTagDigest   string
	insecure, insecurePull, skipTLS, skipTLSPul bool
	insecureRegistries, mirrors                 []string
	customPlatform, verbosity, snapshotMode     string
	pushRetry                                   int
	cleanup, useNewRun, noPushCache             bool
}

func (k *kanikoFlags) register(f *pflag.FlagSet) {
	f.StringVarP(&k.context, "context", "c", "/workspace/", "build context: a folder, dir://DIR, tar://FILE.tar[.gz], or git://HOST/REPO[#REF]")
	f.StringVarP(&k.dockerfile, "dockerfile", "f", "Dockerfile", "Dockerfile, relative to the context unless it exists as given")
	stringArrayVarP(f, &k.destinations, "destination", "d", "image to push the result to (repeatable)")
	stringArrayVar(f, &k.buildArgs, "build-arg", "build argument KEY=VALUE (repeatable)")
	f.StringVar(&k.target, "target", "", "stage to build")
	stringArrayVar(f, &k.labels, "label", "label KEY=VALUE on the image (repeatable)")
	f.BoolVar(&k.cache, "cache", false, "take and store cached steps in --cache-repo")
	f.StringVar(&k.cacheRepo, "cache-repo", "", "repository for cached steps (default: the first destination's repository + /cache)")
	f.StringVar(&k.cacheTTL, "cache-ttl", "", "accepted: gantry's cached steps are keyed by their inputs, valid as long as those are unchanged")
	f.StringVar(&k.cacheDir, "cache-dir", "", "accepted for base images kaniko warmed: gantry keeps bases in its store ($GANTRY_ROOT)")
	f.BoolVar(&k.noPush, "no-push", false, "build without pushing")
	f.BoolVar(&k.noPushCache, "no-push-cache", false, "take cached steps without pushing new ones")
	f.StringVar(&k.tarPath, "tar-path", "", "also write the image as a docker load archive")
	f.StringVar(&k.digestFile, "digest-file", "", "write the image's manifest digest to this file")
	f.StringVar(&k.nameDigestFile, "image-name-with-digest-file", "", "write REPOSITORY@DIGEST of each destination to this file")
	f.StringVar(&k.nameTagDigest, "image-name-tag-with-digest-file", "", "write REPOSITORY:TAG@DIGEST of each destination to this file")
	f.BoolVar(&k.insecure, "insecure", false, "push over plain HTTP")
	f.BoolVar(&k.insecurePull, "insecure-pull", false, "pull over plain HTTP")
	stringArrayVar(f, &k.insecureRegistries, "insecure-registry", "registry spoken to over plain HTTP (repeatable)")
	f.BoolVar(&k.skipTLS, "skip-tls-verify", false, "accept any TLS certificate (self-signed test registries)")
	f.BoolVar(&k.skipTLSPul, "skip-tls-verify-pull", false, "accept any TLS certificate when pulling")
	stringArrayVar(f, &k.mirrors, "registry-mirror", "mirror for Docker Hub images (repeatable)")
	f.BoolVar(&k.reproducible, "reproducible", false, "accepted: gantry's images are reproducible by default (times from $SOURCE_DATE_EPOCH, else 1970)")
	f.BoolVar(&k.singleSnapshot, "single-snapshot", false, "one layer for everything the Dockerfile adds over the final stage's base (as build --squash)")
	f.StringVar(&k.customPlatform, "custom-platform", "", "platform to build for, os/arch[/variant]")
	f.IntVar(&k.pushRetry, "push-retry", 0, "retries of a failed registry request")
	f.StringVarP(&k.verbosity, "verbosity", "v", "info", "log level: panic, fatal, error, warn, info, debug, trace")
	f.BoolVar(&k.cleanup, "cleanup", false, "empty the container's root filesystem after the build (container isolation)")
	stringArrayVar(f, &k.ignorePath, "ignore-path", "path of the build container RUN steps leave alone (repeatable)")
	f.StringVar(&k.snapshotMode, "snapshot-mode", "", "accepted: gantry's snapshot is always the fast one (metadata, ctime)")
	f.BoolVar(&k.useNewRun, "use-new-run", false, "accepted: gantry's RUN is always the fast one")
}

func newExecutorCommand(g *globals) *cobra.Command {
	var k kanikoFlags
	cmd := &cobra.Command{
		Use:   "executor --context DIR --dockerfile FILE --destination IMAGE…",
		Short: "Build with kaniko's executor command line (also when gantry is invoked as executor)",
		Long: "gantry executor takes kaniko executor's flags, so that a CI job built for kaniko runs unchanged with gantry's image.\n" +
			"In gantry's image, RUN uses the container itself as the isolation, as kaniko does.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return k.run(cmd, g) },
	}
	k.register(cmd.Flags())
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return fmt.Errorf("%w: gantry executor takes kaniko's flags it can honour; this one it does not (see gantry executor --help)", err)
	})
	return cmd
}

func (k *kanikoFlags) run(cmd *cobra.Command, g *globals) error {
	if len(k.destinations) == 0 && !k.noPush {
		return errors.New("give --destination IMAGE (repeatable), or --no-push")
	}
	// kaniko's image keeps its registry credentials here.
	if os.Getenv("DOCKER_CONFIG") == "" && fileExists("/kaniko/.docker/config.json") {
		os.Setenv("DOCKER_CONFIG", "/kaniko/.docker")
	}
	g.insecure = g.insecure || k.insecure || k.insecurePull
	g.skipTLSVerify = k.skipTLS || k.skipTLSPul
	g.mirrors, g.insecureRegistries, g.retries = k.mirrors, k.insecureRegistries, k.pushRetry
	if k.customPlatform != "" {
		g.platform = k.customPlatform
	}
	switch k.verbosity {
	case "panic", "fatal", "error":
		g.progress = "quiet"
	case "warn", "info", "debug", "trace":
		g.progress = "plain"
	default:
		return fmt.Errorf("invalid --verbosity %q: use panic, fatal, error, warn, info, debug or trace", k.verbosity)
	}

	contextDir, stdin, err := kanikoContext(k.context)
	if errors.Is(err, errGitContext) {
		checkout, err := os.MkdirTemp("", "gantry-git-context-*")
		if err != nil {
			return err
		}
		defer os.RemoveAll(checkout)
		if contextDir, err = kanikoGitContext(cmd.Context(), k.context, checkout); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	if stdin != nil {
		defer stdin.Close()
		cmd.SetIn(stdin)
	}
	d := dockerfileFlags{file: kanikoDockerfile(contextDir, k.dockerfile), target: k.target, buildArgs: k.buildArgs,
		labels: k.labels, hostKeep: k.ignorePath, cleanup: k.cleanup, squash: k.singleSnapshot}
	if d.isolation = os.Getenv("GANTRY_ISOLATION"); d.isolation == "" {
		d.isolation = "auto"
	}
	if k.cache {
		repo := k.cacheRepo
		if repo == "" && len(k.destinations) > 0 {
			ref, err := name.ParseReference(k.destinations[0])
			if err != nil {
				return err
			}
			repo = ref.Context().Name() + "/cache"
		}
		d.cacheFrom = []string{repo}
		if !k.noPushCache {
			d.cacheTo = repo
		}
	}
	targets := publish.Targets{Names: k.destinations, Push: !k.noPush}
	if k.tarPath != "" {
		targets.Outputs = append(targets.Outputs, publish.Output{Type: "docker", Dest: k.tarPath})
	}
	if len(targets.Names) == 0 && len(targets.Outputs) == 0 {
		targets.Outputs = append(targets.Outputs, publish.Output{Type: "cacheonly"})
	}
	if err := targets.Validate(); err != nil {
		return err
	}
	var ctxArgs []string
	if stdin != nil {
		ctxArgs = []string{"-"}
	} else {
		ctxArgs = []string{contextDir}
	}
	res, err := d.build(cmd, g, ctxArgs, targets, "gzip", "")
	if err != nil {
		return err
	}
	return k.writeDigests(res)
}

// kanikoContext reads --context: a folder (dir:// or none), or a tar
// (tar://, gzip or not) read as docker build reads a context on stdin.
func kanikoContext(c string) (dir string, tarFile *os.File, err error) {
	switch {
	case strings.HasPrefix(c, "tar://"):
		f, err := os.Open(strings.TrimPrefix(c, "tar://"))
		if err != nil {
			return "", nil, fmt.Errorf("--context: %w", err)
		}
		return "", f, nil
	case strings.HasPrefix(c, "git://"):
		return "", nil, errGitContext
	case strings.HasPrefix(c, "s3://"), strings.HasPrefix(c, "gs://"), strings.HasPrefix(c, "https://"), strings.HasPrefix(c, "az://"):
		return "", nil, fmt.Errorf("--context %s: gantry executor builds from a folder (dir://), a tar (tar://) or a git repository (git://); fetch the sources first (the CI job's checkout)", c)
	}
	dir = strings.TrimPrefix(c, "dir://")
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return "", nil, fmt.Errorf("--context %s: not a folder", c)
	}
	return dir, nil, nil
}

// errGitContext says --context is a git repository: kanikoGitContext
// clones it.
var errGitContext = errors.New("a git context")

// kanikoGitContext clones kaniko's git context,
// git://HOST/PATH[#REF[#COMMIT]], over https as kaniko does (with
// $GIT_USERNAME and $GIT_PASSWORD, or $GIT_TOKEN, when set) into dir, and
// returns the checkout: REF (a branch, tag or refs/… name; default the
// remote's HEAD), or COMMIT when given.
func kanikoGitContext(ctx context.Context, c, dir string) (string, error) {
	repo, frag, _ := strings.Cut(strings.TrimPrefix(c, "git://"), "#")
	ref, commit, _ := strings.Cut(frag, "#")
	u := &url.URL{Scheme: "https", Path: repo}
	if host, p, ok := strings.Cut(repo, "/"); ok {
		u.Host, u.Path = host, "/"+p
	}
	if user, pass := os.Getenv("GIT_USERNAME"), os.Getenv("GIT_PASSWORD"); user != "" || pass != "" {
		u.User = url.UserPassword(user, pass)
	} else if token := os.Getenv("GIT_TOKEN"); token != "" {
		u.User = url.UserPassword("x-access-token", token)
	}
	src := u.String()
	if commit != "" {
		ref = commit
	}
	if ref != "" {
		src += "#" + ref
	}
	out, err := dockerfile.GitCheckout(ctx, src, dir, false)
	if err != nil {
		// The error names the URL: not the credentials.
		return "", fmt.Errorf("--context %s: %s", c, strings.ReplaceAll(err.Error(), u.String(), u.Redacted()))
	}
	return out, nil
}

// kanikoDockerfile resolves --dockerfile as kaniko does: as given if it
// exists, else relative to the context.
func kanikoDockerfile(contextDir, file string) string {
	if file == "-" || filepath.IsAbs(file) || fileExists(file) || contextDir == "" {
		return file
	}
	return filepath.Join(contextDir, file)
}

// writeDigests writes kaniko's digest files.
func (k *kanikoFlags) writeDigests(a images.Artifact) error {
	digest, err := a.Digest()
	if err != nil {
		return err
	}
	if k.digestFile != "" {
		if err := os.WriteFile(k.digestFile, []byte(digest.String()), 0o644); err != nil {
			return err
		}
	}
	var withDigest, withTag []string
	for _, dst := range k.destinations {
		ref, err := name.ParseReference(dst)
		if err != nil {
			return err
		}
		withDigest = append(withDigest, ref.Context().Name()+"@"+digest.String())
		withTag = append(withTag, ref.Name()+"@"+digest.String())
	}
	for path, lines := range map[string][]string{k.nameDigestFile: withDigest, k.nameTagDigest: withTag} {
		if path == "" {
			continue
		}
		if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// executorMode is gantry invoked as kaniko's executor (/kaniko/executor in
// gantry's image is gantry itself).
func executorMode(argv0 string) bool { return filepath.Base(argv0) == "executor" }
