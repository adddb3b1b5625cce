package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/gantry-build/gantry/internal/terminal"
	"github.com/gantry-build/gantry/pkg/container"
	"github.com/gantry-build/gantry/pkg/images"
	"github.com/gantry-build/gantry/pkg/store"
	"github.com/gantry-build/gantry/pkg/transfer"
)

// fromImage stores the image ref names (pulling it when needed) and makes
// a working container of it.
func fromImage(cmd *cobra.Command, g *globals, st *store.Store, ref, name string) (*container.Container, error) {
	if err := container.Supported(); err != nil {
		return nil, err // before a pull that would be of no use
	}
	e, err := transfer.Resolve(st, ref)
	if err != nil {
		rc, rerr := g.registry()
		if rerr != nil {
			return nil, rerr
		}
		want, perr := g.wantPlatform()
		if perr != nil {
			return nil, perr
		}
		res, perr := transfer.Pull(cmd.Context(), st, rc, ref, transfer.PullOptions{Platform: want})
		if perr != nil {
			return nil, perr
		}
		if e, err = st.Get(res.Name); err != nil {
			return nil, err
		}
	}
	want, err := g.wantPlatform()
	if err != nil {
		return nil, err
	}
	_, desc, err := transfer.ImageOf(st, e, want)
	if err != nil {
		return nil, err
	}
	return container.Open(st).Create(name, ref, desc.Digest)
}

func newFromCommand(g *globals) *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use:   "from IMAGE [--name NAME]",
		Short: "Create a working container from an image and print its name",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := g.store()
			if err != nil {
				return err
			}
			c, err := fromImage(cmd, g, st, args[0], name)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), c.Name)
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "container name (default IMAGE-working-container)")
	return cmd
}

func newRunCommand(g *globals) *cobra.Command {
	var (
		rm, interactive, tty bool
		o                    container.RunOptions
		lf                   limitFlags
	)
	cmd := &cobra.Command{
		Use:   "run [--rm] [-it] NAME|IMAGE [CMD…]",
		Short: "Run a command in a working container (its changes stay), or with --rm in a throwaway one",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			// Before any pull, as docker run refuses -it without a terminal.
			streams, err := decideStreams(interactive, tty, isTerminal(cmd.InOrStdin()))
			if err != nil {
				return err
			}
			if o.Limits, err = lf.limits(); err != nil {
				return err
			}
			st, err := g.store()
			if err != nil {
				return err
			}
			cs := container.Open(st)
			var c *container.Container
			if rm {
				if c, err = fromImage(cmd, g, st, args[0], ""); err != nil {
					return err
				}
				defer cs.Remove(c.Name)
			} else if c, err = cs.Get(args[0]); err != nil {
				return err
			}
			o.Args = commandArgs(args[1:])
			o.Stdout, o.Stderr = cmd.OutOrStdout(), cmd.ErrOrStderr()
			detach, err := attach(cmd.Context(), streams, cmd.InOrStdin(), cmd.OutOrStdout(), &o)
			defer detach() // the caller's terminal as it was, on every way out
			if err != nil {
				return err
			}
			return cs.Run(cmd.Context(), c, o)
		},
	}
	f := cmd.Flags()
	// Flags end at NAME|IMAGE, as with docker run: the rest is the command,
	// its own flags included (gantry run --rm busybox ls -la /).
	f.SetInterspersed(false)
	f.BoolVar(&rm, "rm", false, "run in a throwaway container made from IMAGE")
	f.BoolVarP(&interactive, "interactive", "i", false, "keep standard input attached")
	f.BoolVarP(&tty, "tty", "t", false, "give the command a pseudo-terminal (with -i, type into it: an interactive shell)")
	stringArrayVarP(f, &o.Env, "env", "e", "environment variable KEY=VALUE for this run")
	f.StringVarP(&o.Workdir, "workdir", "w", "", "working directory for this run")
	f.StringVarP(&o.User, "user", "u", "", "user[:group] for this run")
	stringArrayVarP(f, &o.Volumes, "volume", "v", "HOST:CONTAINER[:ro] bind mount for this run")
	f.StringVar(&o.Network, "network", "default", "default (a namespace of its own, out through pasta; not the host's loopback), host or none")
	lf.register(f, "the command")
	return cmd
}

// commandArgs is the command after NAME|IMAGE. A "--" before it, the
// form gantry run took before flags stopped at the image, is dropped.
func commandArgs(args []string) []string {
	if len(args) > 0 && args[0] == "--" {
		return args[1:]
	}
	return args
}

func newCpCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "cp SRC NAME:DEST | cp NAME:SRC DEST",
		Short: "Copy files into or out of a working container",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := g.store()
			if err != nil {
				return err
			}
			cs := container.Open(st)
			if name, p, ok := strings.Cut(args[1], ":"); ok && !strings.Contains(args[0], ":") {
				c, err := cs.Get(name)
				if err != nil {
					return err
				}
				return cs.CopyIn(cmd.Context(), c, args[0], p)
			}
			if name, p, ok := strings.Cut(args[0], ":"); ok {
				c, err := cs.Get(name)
				if err != nil {
					return err
				}
				return cs.CopyOut(cmd.Context(), c, p, args[1])
			}
			return fmt.Errorf("one side must be NAME:PATH in a working container")
		},
	}
}

func newConfigCommand(g *globals) *cobra.Command {
	var cf configFlags
	var changes []string
	cmd := &cobra.Command{
		Use:   "config NAME [config flags] [--change 'INSTRUCTION'…]",
		Short: "Set the config (entrypoint, cmd, env, ports, labels…) of a working container's future image",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := g.store()
			if err != nil {
				return err
			}
			cs := container.Open(st)
			c, err := cs.Get(args[0])
			if err != nil {
				return err
			}
			return cs.Configure(c, cf.edits(cmd.Flags()), changes)
		},
	}
	cf.register(cmd.Flags())
	stringArrayVarP(cmd.Flags(), &changes, "change", "c", "Dockerfile instruction to apply (repeatable)")
	return cmd
}

func newCommitCommand(g *globals) *cobra.Command {
	var (
		o  container.CommitOptions
		tf targetFlags
	)
	cmd := &cobra.Command{
		Use:   "commit NAME [IMAGE] [--change …] [-m MESSAGE] [--author …] [-t NAME] [--push] [-o …]",
		Short: "Write a working container's changes as one new layer on its image",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 2 {
				tf.tags = append(tf.tags, args[1])
			}
			targets, err := tf.targets(cmd.Context())
			if err != nil {
				return err
			}
			m, err := g.newMaker("")
			if err != nil {
				return err
			}
			defer m.close()
			cs := container.Open(m.st)
			c, err := cs.Get(args[0])
			if err != nil {
				return err
			}
			img, err := cs.Commit(cmd.Context(), c, o)
			if err != nil {
				return err
			}
			return m.deliver(cmd, images.Artifact{Image: img}, targets)
		},
	}
	f := cmd.Flags()
	stringArrayVarP(f, &o.Changes, "change", "c", "Dockerfile instruction to apply to the config (repeatable)")
	f.StringVarP(&o.Message, "message", "m", "", "commit message (the layer's history comment)")
	f.StringVar(&o.Author, "author", "", "author")
	f.StringVar(&o.Compression, "compression", "gzip", "layer compression: gzip, zstd or none")
	tf.register(f)
	return cmd
}

func newPsCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "ps",
		Short: "List working containers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := g.store()
			if err != nil {
				return err
			}
			list, err := container.Open(st).List()
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 3, ' ', 0)
			fmt.Fprintln(tw, "NAME\tIMAGE\tCREATED")
			for _, c := range list {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", terminal.Escape(c.Name), terminal.Escape(c.Image), c.Created.Format("2006-01-02 15:04"))
			}
			return tw.Flush()
		},
	}
}

func newRmCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "rm NAME…",
		Short: "Remove working containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := g.store()
			if err != nil {
				return err
			}
			for _, n := range args {
				if err := container.Open(st).Remove(n); err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), n)
			}
			return nil
		},
	}
}
