package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gantry-build/gantry/pkg/config"
	"github.com/gantry-build/gantry/pkg/flagbuild"
	"github.com/gantry-build/gantry/pkg/images"
	"github.com/gantry-build/gantry/pkg/layer"
	"github.com/gantry-build/gantry/pkg/progress"
	"github.com/gantry-build/gantry/pkg/publish"
	"github.com/gantry-build/gantry/pkg/registry"
	"github.com/gantry-build/gantry/pkg/rootfs"
	"github.com/gantry-build/gantry/pkg/store"
)

// configFlags are the config edits build and mutate share.
type configFlags struct {
	entrypoint, cmd, workdir, user, stopSignal, healthcheck string
	env, ports, volumes, labels                             []string
}

func (c *configFlags) register(f *pflag.FlagSet) {
	f.StringVar(&c.entrypoint, "entrypoint", "", `entrypoint: a JSON array (exec form) or a string (run by /bin/sh -c); "" clears it`)
	f.StringVar(&c.cmd, "cmd", "", `default command, same forms as --entrypoint; "" clears it`)
	stringArrayVar(f, &c.env, "env", "environment variable KEY=VALUE (repeatable)")
	stringArrayVar(f, &c.ports, "port", "exposed port: 80, 80/tcp, 53/udp (repeatable)")
	f.StringVar(&c.workdir, "workdir", "", "working directory")
	stringArrayVar(f, &c.volumes, "volume", "volume path (repeatable)")
	stringArrayVar(f, &c.labels, "label", "label KEY=VALUE (repeatable)")
	f.StringVar(&c.user, "user", "", "user[:group] the image runs as")
	f.StringVar(&c.stopSignal, "stop-signal", "", "signal that stops a container")
	f.StringVar(&c.healthcheck, "healthcheck", "", "HEALTHCHECK arguments: NONE, or [--interval=30s …] CMD command")
}

// edits turns the flags the user set into config edits: a flag not given
// inherits, a flag given as "" clears.
func (c *configFlags) edits(f *pflag.FlagSet) config.Edits {
	set := func(name string, v string) *string {
		if f.Changed(name) {
			return &v
		}
		return nil
	}
	return config.Edits{
		Entrypoint: set("entrypoint", c.entrypoint), Cmd: set("cmd", c.cmd), Env: c.env, Ports: c.ports,
		Workdir: set("workdir", c.workdir), Volumes: c.volumes, Labels: c.labels, User: set("user", c.user),
		StopSignal: set("stop-signal", c.stopSignal), Healthcheck: set("healthcheck", c.healthcheck),
	}
}

// targetFlags are the outputs of every verb that makes an image.
type targetFlags struct {
	tags    []string
	push    bool
	load    bool
	outputs []string
}

func (t *targetFlags) register(f *pflag.FlagSet) {
	stringArrayVarP(f, &t.tags, "tag", "t", "name the image NAME[:TAG] in the local store (repeatable)")
	f.BoolVar(&t.push, "push", false, "push the image to the registry of each -t name")
	f.BoolVar(&t.load, "load", false, "load the image into the Docker/Podman engine at DOCKER_HOST (-o type=docker)")
	stringArrayVarP(f, &t.outputs, "output", "o", "also write it: type=docker[,dest=FILE.tar] | type=oci,dest=DIR|FILE.tar | type=local,dest=DIR | type=tar,dest=FILE | type=daemon | type=image,name=NAME[,push=true] | type=registry[,name=NAME]")
}

// targets reads the output flags and checks, before any work, that they
// can be reached (a daemon output needs an engine that answers).
func (t *targetFlags) targets(ctx context.Context) (publish.Targets, error) {
	out := publish.Targets{Names: t.tags, Push: t.push}
	if t.load {
		out.Outputs = append(out.Outputs, publish.Output{Type: "daemon"})
	}
	for _, s := range t.outputs {
		o, err := publish.ParseOutput(s)
		if err != nil {
			return out, err
		}
		out.Outputs = append(out.Outputs, o)
	}
	if err := out.Validate(); err != nil {
		return out, err
	}
	return out, out.Check(ctx)
}

// maker is what a verb that makes an image needs: the image's time
// (--timestamp), the --platform list, the store, a registry client and
// progress.
type maker struct {
	created   time.Time
	platforms []v1.Platform
	st        *store.Store
	rc        *registry.Client
	rep       progress.Reporter
	release   func() // lets prune run again
	quiet     bool   // -q: print the image ID alone
}

func (g *globals) newMaker(ts string) (*maker, error) {
	created, err := timestamp(ts)
	if err != nil {
		return nil, err
	}
	platforms, err := g.wantPlatforms()
	if err != nil {
		return nil, err
	}
	st, rc, rep, err := g.transferSetup()
	if err != nil {
		return nil, err
	}
	// Prune waits from now until the image is stored: the layers a build
	// makes are unnamed until then, and prune would take them.
	release, err := st.Writing()
	if err != nil {
		return nil, err
	}
	return &maker{created: created, platforms: platforms, st: st, rc: rc, rep: rep, release: release, quiet: g.resultOnly()}, nil
}

// close ends progress and lets prune run again.
func (m *maker) close() {
	m.rep.Close()
	m.release()
}

// platform is the one --platform of verbs that make a single image, nil for
// this machine's.
func (m *maker) platform() (*v1.Platform, error) {
	switch len(m.platforms) {
	case 0:
		return nil, nil
	case 1:
		return &m.platforms[0], nil
	}
	return nil, fmt.Errorf("--platform: this verb makes one image; give one platform")
}

// deliver sends what the verb made to its targets and prints where it
// went, even the part done before a failure; with -q, the image ID alone,
// as docker build -q, docker commit and docker import print it.
func (m *maker) deliver(cmd *cobra.Command, a images.Artifact, targets publish.Targets) error {
	ds, err := publish.Deliver(cmd.Context(), m.st, m.rc, a, targets, m.rep)
	m.rep.Close()
	if err == nil && m.quiet {
		return printImageID(cmd.OutOrStdout(), a)
	}
	for _, d := range ds {
		fmt.Fprintf(cmd.OutOrStdout(), "%s %s %s\n", d.What, d.Where, d.Digest)
	}
	return err
}

// timestamp reads --timestamp: "" (SOURCE_DATE_EPOCH or the epoch), "now",
// or seconds since the epoch.
func timestamp(s string) (time.Time, error) {
	switch s {
	case "":
		return layer.Epoch()
	case "now":
		return time.Now().UTC().Truncate(time.Second), nil
	}
	sec, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("invalid --timestamp %q: use now or seconds since 1970", s)
	}
	return time.Unix(sec, 0).UTC(), nil
}

func newBuildCommand(g *globals) *cobra.Command {
	var (
		from, chown, chmod, compression, ts string
		adds, excludes                      []string
		cf                                  configFlags
		tf                                  targetFlags
		df                                  dockerfileFlags
	)
	cmd := &cobra.Command{
		Use:   "build [CONTEXT] [-f Dockerfile] | build --from BASE --add SRC:DEST… [config flags]   (-t NAME [--push] | -o …)",
		Short: "Build an image from a Dockerfile, or from a base, local files as one new layer, and config edits",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			targets, err := tf.targets(cmd.Context())
			if err != nil {
				return err
			}
			if from == "" {
				// A Dockerfile says what the flags of a build from flags
				// would: given here, they would be silently lost.
				if name := firstGiven(cmd.Flags(), flagsOnlyFrom); name != "" {
					return fmt.Errorf("--%s applies to builds from flags (--from BASE); a Dockerfile build takes it from the Dockerfile (gantry mutate changes the result)", name)
				}
				df.labels = cf.labels
				return df.run(cmd, g, args, targets, compression, ts)
			}
			if name := firstGiven(cmd.Flags(), flagsOnlyDockerfile); name != "" {
				return fmt.Errorf("--%s applies to Dockerfile builds, not to builds from flags (--from)", name)
			}
			if len(args) > 0 {
				return fmt.Errorf("--from builds take no CONTEXT: the files come from --add")
			}
			opts := flagbuild.Options{From: from, Compression: compression, Edits: cf.edits(cmd.Flags())}
			for _, a := range adds {
				add, err := layer.ParseAdd(a)
				if err != nil {
					return err
				}
				opts.Adds = append(opts.Adds, add)
			}
			if len(opts.Adds) == 0 {
				return fmt.Errorf("nothing to add: give --add SRC:DEST (use gantry mutate for config-only changes)")
			}
			if opts.Layer, err = layerOptions(chown, chmod, excludes); err != nil {
				return err
			}
			m, err := g.newMaker(ts)
			if err != nil {
				return err
			}
			defer m.close()
			opts.Created, opts.Platforms = m.created, m.platforms
			res, err := flagbuild.FromFlags(cmd.Context(), m.st, m.rc, opts)
			if err != nil {
				return err
			}
			if res.Cached {
				m.rep.Printf("new layer: unchanged files, reused from the cache")
			}
			if err := m.deliver(cmd, res.Artifact, targets); err != nil {
				return err
			}
			return writeIIDFile(df.iidfile, res.Artifact)
		},
	}
	f := cmd.Flags()
	f.StringVar(&from, "from", "", "base image, or scratch")
	stringArrayVar(f, &adds, "add", "SRC:DEST, a file or folder and where it goes (repeatable; all become one layer)")
	f.StringVar(&chown, "chown", "", "UID[:GID] owning the added files (default 0:0)")
	f.StringVar(&chmod, "chmod", "", "octal mode of the added files and folders, e.g. 755")
	stringArrayVar(f, &excludes, "exclude", "pattern of files not to add, .dockerignore syntax (repeatable)")
	f.StringVar(&compression, "compression", "gzip", "layer compression: gzip, zstd or none")
	f.StringVar(&ts, "timestamp", "", "time of the image and its files: seconds since 1970, or now (default $SOURCE_DATE_EPOCH, else 1970)")
	cf.register(f)
	tf.register(f)
	df.register(f)
	return cmd
}

// The flags of one build mode only, from what each mode registers: a flag
// added later is covered without a list to keep.
var (
	flagsOnlyFrom = append(flagNames(func(f *pflag.FlagSet) { new(configFlags).register(f) }, "label"),
		"add", "chown", "chmod", "exclude")
	flagsOnlyDockerfile = flagNames(func(f *pflag.FlagSet) { new(dockerfileFlags).register(f) }, "iidfile")
)

// flagNames lists the flags register adds, but the ones in both modes.
func flagNames(register func(*pflag.FlagSet), shared ...string) []string {
	f := pflag.NewFlagSet("", pflag.ContinueOnError)
	register(f)
	var names []string
	f.VisitAll(func(fl *pflag.Flag) {
		if !slices.Contains(shared, fl.Name) {
			names = append(names, fl.Name)
		}
	})
	return names
}

// firstGiven is the first of names given on the command line, or "".
func firstGiven(f *pflag.FlagSet, names []string) string {
	for _, name := range names {
		if f.Changed(name) {
			return name
		}
	}
	return ""
}

func layerOptions(chown, chmod string, excludes []string) (layer.Options, error) {
	o := layer.Options{Excludes: excludes}
	if chown != "" {
		var err error
		if o.UID, o.GID, err = config.ParseChown(chown); err != nil {
			return o, err
		}
	}
	if chmod != "" {
		m, err := strconv.ParseUint(chmod, 8, 32)
		if err != nil || m > 0o7777 {
			return o, fmt.Errorf("invalid --chmod %q: use an octal mode such as 755", chmod)
		}
		mode := rootfs.ModeFromUnix(int64(m))
		o.Mode = &mode
	}
	return o, nil
}

func newMutateCommand(g *globals) *cobra.Command {
	var (
		changes []string
		ts      string
		cf      configFlags
		tf      targetFlags
	)
	cmd := &cobra.Command{
		Use:   "mutate IMAGE [config flags] [--change 'INSTRUCTION'…] (-t NAME [--push] | -o …)",
		Short: "Change only the config of an image, like docker commit -c; layers stay as they are",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			targets, err := tf.targets(cmd.Context())
			if err != nil {
				return err
			}
			opts := flagbuild.MutateOptions{Image: args[0], Edits: cf.edits(cmd.Flags()), Changes: changes}
			m, err := g.newMaker(ts)
			if err != nil {
				return err
			}
			defer m.close()
			opts.Created = m.created
			if opts.Platform, err = m.platform(); err != nil {
				return err
			}
			img, err := flagbuild.Mutate(cmd.Context(), m.st, m.rc, opts)
			if err != nil {
				return err
			}
			return m.deliver(cmd, images.Artifact{Image: img}, targets)
		},
	}
	f := cmd.Flags()
	stringArrayVarP(f, &changes, "change", "c", `Dockerfile instruction to apply: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, USER, VOLUME, WORKDIR, STOPSIGNAL, HEALTHCHECK (repeatable)`)
	f.StringVar(&ts, "timestamp", "", "time of the history entries: seconds since 1970, or now (default $SOURCE_DATE_EPOCH, else 1970)")
	cf.register(f)
	tf.register(f)
	return cmd
}
