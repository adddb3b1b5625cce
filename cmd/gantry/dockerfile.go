package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/gantry-build/gantry/pkg/dockerfile"
	"github.com/gantry-build/gantry/pkg/images"
	"github.com/gantry-build/gantry/pkg/publish"
	"github.com/gantry-build/gantry/pkg/sandbox"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// dockerfileFlags are the flags of a Dockerfile build.
type dockerfileFlags struct {
	file, target       string
	buildArgs, secrets []string
	ssh                []string
	labels             []string // --label, shared with builds from flags
	network            string
	isolation          string
	ulimits            []string
	limits             limitFlags
	iidfile            string
	pull               bool
	addHosts           []string
	contexts           []string
	noCache            bool
	squash             bool
	cacheFrom          []string
	cacheTo            string
	// Set by gantry executor (kaniko's --ignore-path, --cleanup).
	hostKeep []string
	cleanup  bool
}

func (d *dockerfileFlags) register(f *pflag.FlagSet) {
	f.StringVarP(&d.file, "file", "f", "", "Dockerfile (default CONTEXT/Dockerfile)")
	stringArrayVar(f, &d.buildArgs, "build-arg", "build argument KEY=VALUE (repeatable)")
	f.StringVar(&d.target, "target", "", "stage to build (default the last)")
	f.BoolVar(&d.noCache, "no-cache", false, "run every step, ignoring the build cache")
	stringArrayVar(f, &d.secrets, "secret", "secret for RUN --mount=type=secret: id=ID,src=FILE or id=ID,env=VAR (repeatable)")
	stringArrayVar(f, &d.contexts, "build-context", "NAME=DIR or NAME=docker-image://REF for COPY --from=NAME and FROM NAME (repeatable)")
	stringArrayVar(f, &d.addHosts, "add-host", "NAME:IP in the /etc/hosts of RUN steps (repeatable)")
	f.BoolVar(&d.squash, "squash", false, "put what the target stage adds over its FROM image into one layer (docker build --squash, kaniko's --single-snapshot)")
	f.BoolVar(&d.pull, "pull", false, "look for a newer version of every base image in its registry")
	f.StringVar(&d.iidfile, "iidfile", "", "write the image ID (config digest; index digest for several platforms) to this file")
	f.StringVar(&d.network, "network", "", "network of RUN steps that do not say: default (a namespace of its own, out through pasta; not the host's loopback), host or none")
	stringArrayVar(f, &d.ulimits, "ulimit", "resource limit of RUN steps, NAME=SOFT[:HARD] as docker build takes it, e.g. nofile=1024:2048 (repeatable)")
	d.limits.register(f, "each RUN step")
	f.StringVar(&d.isolation, "isolation", os.Getenv("GANTRY_ISOLATION"), "how RUN is isolated: auto, sandbox (namespaces) or container (the build container itself; only inside a throwaway container) (default $GANTRY_ISOLATION, else auto)")
	stringArrayVar(f, &d.ssh, "ssh", "ssh-agent for RUN --mount=type=ssh: default|ID[=SOCKET] (default socket $SSH_AUTH_SOCK; repeatable)")
	stringArrayVar(f, &d.cacheFrom, "cache-from", "where to take cached steps from (repeatable, tried in order): REPO (steps tagged by key; and REPO:latest's inline cache), IMAGE:TAG (its inline cache), type=registry,ref=REPO|IMAGE or type=local,src=DIR (an OCI layout)")
	f.StringVar(&d.cacheTo, "cache-to", "", "where to send every step the build uses, tagged by its cache key: REPO, type=registry,ref=REPO[,mode=min|max], type=local,dest=DIR, or type=inline (the target's steps, in the image's config)")
}

func (d *dockerfileFlags) run(cmd *cobra.Command, g *globals, args []string, targets publish.Targets, compression, ts string) error {
	res, err := d.build(cmd, g, args, targets, compression, ts)
	if err != nil {
		return err
	}
	return writeIIDFile(d.iidfile, res)
}

// build builds the Dockerfile and delivers the image to targets.
func (d *dockerfileFlags) build(cmd *cobra.Command, g *globals, args []string, targets publish.Targets, compression, ts string) (images.Artifact, error) {
	opts := dockerfile.DockerfileOptions{Context: ".", Dockerfile: d.file, Target: d.target, NoCache: d.noCache, Pull: d.pull, AddHosts: d.addHosts,
		Compression: compression, BuildArgs: map[string]string{}}
	if len(args) == 1 {
		opts.Context = args[0]
	}
	limits, err := d.limits.limits()
	if err != nil {
		return images.Artifact{}, err
	}
	opts.Limits = limits
	// What the build reads from standard input or the environment lives
	// here, readable by this user only, as long as the build.
	inputs, err := os.MkdirTemp("", "gantry-build-")
	if err != nil {
		return images.Artifact{}, err
	}
	defer os.RemoveAll(inputs)
	if opts.Context == "-" || opts.Dockerfile == "-" {
		if opts.Context, opts.Dockerfile, err = dockerfile.StdinInputs(cmd.InOrStdin(), opts.Context, opts.Dockerfile, inputs); err != nil {
			return images.Artifact{}, fmt.Errorf("standard input: %w", err)
		}
	}
	for _, kv := range d.buildArgs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			v, ok = os.LookupEnv(k) // --build-arg NAME takes the value from the environment, as docker does
			if !ok {
				continue
			}
		}
		opts.BuildArgs[k] = v
	}
	for _, from := range d.cacheFrom {
		spec, err := dockerfile.ParseCacheSpec(from, false)
		if err != nil {
			return images.Artifact{}, err
		}
		if spec.Type != "" {
			opts.CacheFrom = append(opts.CacheFrom, spec)
		}
	}
	if opts.CacheTo, err = dockerfile.ParseCacheSpec(d.cacheTo, true); err != nil {
		return images.Artifact{}, err
	}
	opts.Secrets = map[string]string{}
	for _, sec := range d.secrets {
		id, src, mem, err := secretSource(sec)
		if err != nil {
			return images.Artifact{}, err
		}
		if mem != nil {
			defer mem.Close() // the secret lives as long as the build
		}
		opts.Secrets[id] = src
	}
	for _, u := range d.ulimits {
		l, err := sandbox.ParseUlimit(u)
		if err != nil {
			return images.Artifact{}, err
		}
		opts.Ulimits = append(opts.Ulimits, l)
	}
	if opts.Isolation, err = sandbox.ParseIsolation(d.isolation); err != nil {
		return images.Artifact{}, err
	}
	switch d.network {
	case "", "default", "host", "none":
		opts.Network = d.network
	default:
		return images.Artifact{}, fmt.Errorf("invalid --network %q: use default, host or none", d.network)
	}
	opts.Contexts = map[string]string{}
	for _, kv := range d.contexts {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || name == "" || value == "" {
			return images.Artifact{}, fmt.Errorf("invalid --build-context %q: use NAME=DIR or NAME=docker-image://REF", kv)
		}
		if !strings.HasPrefix(value, "docker-image://") {
			abs, err := filepath.Abs(value)
			if err != nil {
				return images.Artifact{}, err
			}
			if fi, err := os.Stat(abs); err != nil || !fi.IsDir() {
				return images.Artifact{}, fmt.Errorf("--build-context %s: %s is not a folder (or use docker-image://REF)", name, value)
			}
			value = abs
		}
		opts.Contexts[name] = value
	}
	opts.Labels = map[string]string{}
	for _, kv := range d.labels {
		k, v, _ := strings.Cut(kv, "=")
		if k == "" {
			return images.Artifact{}, fmt.Errorf("invalid --label %q: use KEY=VALUE", kv)
		}
		opts.Labels[k] = v
	}
	opts.SSH = map[string]string{}
	for _, spec := range d.ssh {
		id, sock, err := parseSSH(spec)
		if err != nil {
			return images.Artifact{}, err
		}
		opts.SSH[id] = sock
	}
	m, err := g.newMaker(ts)
	if err != nil {
		return images.Artifact{}, err
	}
	defer m.close()
	opts.Created, opts.Platforms, opts.Progress = m.created, m.platforms, m.rep
	if opts.WritesInlineCache() && !carriesImage(targets) {
		// As BuildKit: the inline cache goes out with an image, and a
		// build that exports none writes none.
		m.rep.Printf("[Warning] --cache-to type=inline: no output of this build carries an image (-t, --push, -o type=image|registry|docker|oci|daemon), so no inline cache is written")
	}
	opts.HostKeep, opts.Cleanup, opts.Squash = d.hostKeep, d.cleanup, d.squash
	res, err := dockerfile.FromDockerfile(cmd.Context(), m.st, m.rc, opts)
	if err != nil {
		return images.Artifact{}, err
	}
	return res, m.deliver(cmd, res, targets)
}

// carriesImage tells whether the build's image (and its config) goes
// anywhere: the store, a registry, an archive, a layout, a daemon. A root
// filesystem (-o type=local|tar) or cacheonly carries no config.
func carriesImage(t publish.Targets) bool {
	if len(t.Names) > 0 {
		return true
	}
	for _, o := range t.Outputs {
		switch o.Type {
		case "image", "registry", "docker", "oci", "daemon":
			return true
		}
	}
	return false
}

// writeIIDFile writes the built image's ID to path, as docker build
// --iidfile does ("" writes nothing).
func writeIIDFile(path string, a images.Artifact) error {
	if path == "" {
		return nil
	}
	id, err := a.ID()
	if err != nil {
		return err
	}
	return os.WriteFile(path, []byte(id.String()), 0o644)
}

// secretSource reads docker build's --secret id=ID[,src=FILE|,env=VAR]
// (type=file|env too); with neither, the variable named ID if it is set,
// else the file ID, as buildx does. A secret from the environment is kept
// in memory (a memfd open for the life of the process).
func secretSource(spec string) (id, src string, mem *os.File, err error) {
	var env, typ string
	for _, kv := range strings.Split(spec, ",") {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "id":
			id = v
		case "src", "source":
			src = v
		case "env":
			env = v
		case "type":
			typ = v
		}
	}
	if id == "" {
		return "", "", nil, fmt.Errorf("invalid --secret %q: use id=ID,src=FILE or id=ID,env=VAR", spec)
	}
	if src == "" && env == "" {
		if _, ok := os.LookupEnv(id); ok && typ != "file" {
			env = id
		} else {
			src = id
		}
	}
	if typ == "env" && env == "" {
		env, src = src, ""
	}
	if env != "" {
		v, ok := os.LookupEnv(env)
		if !ok {
			return "", "", nil, fmt.Errorf("--secret %s: environment variable %s is not set", id, env)
		}
		// In memory only: a secret from the environment never reaches a
		// disk, and goes with this process.
		f, err := dockerfile.MemorySecret(id, []byte(v), os.Geteuid(), os.Getegid(), 0o400)
		if err != nil {
			return "", "", nil, err
		}
		return id, dockerfile.SecretPath(f), f, nil
	}
	if _, err := os.Stat(src); err != nil {
		return "", "", nil, fmt.Errorf("--secret %s: %w", id, err)
	}
	return id, src, nil, nil
}

// parseSSH reads docker build's --ssh default|ID[=SOCKET]: an ssh-agent
// socket to forward (the agent's key files are not read: ssh-add them).
func parseSSH(spec string) (id, sock string, err error) {
	id, sock, _ = strings.Cut(spec, "=")
	if id == "" {
		return "", "", fmt.Errorf("invalid --ssh %q: use default or ID[=SOCKET]", spec)
	}
	if sock == "" {
		if sock = os.Getenv("SSH_AUTH_SOCK"); sock == "" {
			return "", "", fmt.Errorf("--ssh %s: SSH_AUTH_SOCK is not set: start ssh-agent, or give --ssh %s=SOCKET", id, id)
		}
	}
	if sock, err = filepath.Abs(sock); err != nil {
		return "", "", err
	}
	fi, err := os.Stat(sock)
	if err != nil {
		return "", "", fmt.Errorf("--ssh %s: %w", id, err)
	}
	if fi.Mode()&os.ModeSocket == 0 {
		return "", "", fmt.Errorf("--ssh %s: %s is not an ssh-agent socket (for key files, run ssh-agent and ssh-add them)", id, sock)
	}
	return id, sock, nil
}
