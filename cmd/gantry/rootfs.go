package main

import (
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"

	"github.com/gantry-build/gantry/internal/terminal"
	"github.com/gantry-build/gantry/pkg/container"
	"github.com/gantry-build/gantry/pkg/flagbuild"
	"github.com/gantry-build/gantry/pkg/images"
	"github.com/gantry-build/gantry/pkg/rootfs"
)

func newDiffCommand(g *globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "diff IMAGE_A [IMAGE_B] | diff CONTAINER",
		Short: "List what changed from IMAGE_A to IMAGE_B (A added, C changed, D deleted); with one image, its top layer's changes",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, rc, want, err := g.imageReader()
			if err != nil {
				return err
			}
			if len(args) == 1 {
				cs := container.Open(st)
				if c, err := cs.Get(args[0]); err == nil {
					changes, err := cs.Diff(cmd.Context(), c)
					if err != nil {
						return err
					}
					return printChanges(cmd, format, changes)
				}
			}
			var imgs []v1.Image
			for _, a := range args {
				img, err := images.Resolve(cmd.Context(), st, rc, a, want)
				if err != nil {
					return err
				}
				imgs = append(imgs, img)
			}
			var changes []rootfs.Change
			if len(imgs) == 1 {
				changes, err = rootfs.Diff(nil, imgs[0])
			} else {
				changes, err = rootfs.Diff(imgs[0], imgs[1])
			}
			if err != nil {
				return err
			}
			return printChanges(cmd, format, changes)
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "output format: text or json")
	return cmd
}

func printChanges(cmd *cobra.Command, format string, changes []rootfs.Change) error {
	out := cmd.OutOrStdout()
	switch format {
	case "json":
		if changes == nil {
			changes = []rootfs.Change{}
		}
		return writeJSON(out, changes)
	case "", "text":
		for _, c := range changes {
			// Paths are what the layers say: a file named "x\nA /etc/shadow" must
			// not read as a second change.
			fmt.Fprintf(out, "%s %s\n", c.Kind, terminal.Escape(c.Path))
		}
		return nil
	}
	return fmt.Errorf("unknown --format %q: use text or json", format)
}

func newImportCommand(g *globals) *cobra.Command {
	var (
		changes         []string
		ts, compression string
		tf              targetFlags
	)
	cmd := &cobra.Command{
		Use:   "import ROOTFS.tar|DIR|- (-t NAME [--push] | -o …) [--change 'INSTRUCTION'…]",
		Short: "Make a one-layer image from a root filesystem, like docker import",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			targets, err := tf.targets(cmd.Context())
			if err != nil {
				return err
			}
			opts := flagbuild.ImportOptions{Source: args[0], Stdin: cmd.InOrStdin(), Changes: changes, Compression: compression}
			m, err := g.newMaker(ts)
			if err != nil {
				return err
			}
			defer m.close()
			opts.Created = m.created
			if opts.Platform, err = m.platform(); err != nil {
				return err
			}
			img, err := flagbuild.Import(cmd.Context(), m.st, opts)
			if err != nil {
				return err
			}
			return m.deliver(cmd, images.Artifact{Image: img}, targets)
		},
	}
	f := cmd.Flags()
	stringArrayVarP(f, &changes, "change", "c", "Dockerfile instruction to apply to the config (repeatable)")
	f.StringVar(&ts, "timestamp", "", "image time: seconds since 1970, or now (default $SOURCE_DATE_EPOCH, else 1970)")
	f.StringVar(&compression, "compression", "gzip", "layer compression: gzip, zstd or none")
	tf.register(f)
	return cmd
}
