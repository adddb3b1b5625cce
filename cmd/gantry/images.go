package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/spf13/cobra"

	"github.com/gantry-build/gantry/internal/terminal"
	"github.com/gantry-build/gantry/pkg/container"

	"github.com/gantry-build/gantry/pkg/inspect"
	"github.com/gantry-build/gantry/pkg/transfer"
)

func newImagesCommand(g *globals) *cobra.Command {
	var format string
	var noTrunc bool
	cmd := &cobra.Command{
		Use:     "images",
		Aliases: []string{"image", "ls"},
		Short:   "List the images in the local store",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := g.store()
			if err != nil {
				return err
			}
			rows, err := inspect.List(st)
			if err != nil {
				return err
			}
			return printImages(cmd.OutOrStdout(), rows, format, g.quiet, noTrunc)
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", "output format: table, json, a Go template ('{{.Repository}}:{{.Tag}}', '{{json .}}') or 'table TEMPLATE'")
	cmd.Flags().BoolVar(&noTrunc, "no-trunc", false, "show whole image IDs")
	// -q, the global --quiet, lists the image IDs alone, as docker images -q.
	return cmd
}

// printImages writes rows as images --format asks: docker's table with an
// IMAGE ID column, a JSON array, or a Go template per image; quiet writes
// the image IDs alone.
func printImages(out io.Writer, rows []inspect.Row, format string, quiet, noTrunc bool) error {
	if quiet {
		for _, r := range rows {
			fmt.Fprintln(out, r.ImageID(noTrunc))
		}
		return nil
	}
	switch format {
	case "json":
		if rows == nil {
			rows = []inspect.Row{}
		}
		return writeJSON(out, rows)
	case "", "table":
		tw := tabwriter.NewWriter(out, 0, 4, 3, ' ', 0)
		fmt.Fprintln(tw, "REPOSITORY\tTAG\tIMAGE ID\tDIGEST\tPLATFORM\tSIZE\tCREATED")
		for _, r := range rows {
			// Names and platforms are what images say: escaped, so that none
			// forges a line or drives the terminal.
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", terminal.Escape(r.Repository), terminal.Escape(r.Tag), r.ImageID(noTrunc),
				shortDigest(r.Digest), terminal.Escape(r.Platform), inspect.HumanSize(r.Size), created(r.Created))
		}
		return tw.Flush()
	}
	// As docker's formatter: \t and \n typed in the shell are a tab and a
	// newline, and "table " adds a header and aligns the columns.
	text := strings.NewReplacer(`\t`, "\t", `\n`, "\n").Replace(format)
	table := strings.HasPrefix(text, "table ")
	text = strings.TrimPrefix(text, "table ")
	tmpl, err := inspect.ParseTemplate(text)
	if err != nil {
		return err
	}
	w := out
	var tw *tabwriter.Writer
	if table {
		tw = tabwriter.NewWriter(out, 0, 4, 3, ' ', 0)
		w = tw
		header, err := inspect.ParseHeaderTemplate(text)
		if err != nil {
			return err
		}
		if err := inspect.Execute(w, header, inspect.ImageLineHeader); err != nil {
			return err
		}
	}
	now := time.Now()
	for _, r := range rows {
		if err := inspect.Execute(w, tmpl, r.Line(noTrunc, now)); err != nil {
			return err
		}
	}
	if tw != nil {
		return tw.Flush()
	}
	return nil
}

func shortDigest(d string) string {
	if len(d) > 19 {
		return d[:19]
	}
	return d
}

func created(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Format("2006-01-02 15:04")
}

func newTagCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "tag SOURCE TARGET",
		Short: "Give a stored image another name",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := g.store()
			if err != nil {
				return err
			}
			_, err = transfer.Tag(st, args[0], args[1])
			return err
		},
	}
}

func newRmiCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "rmi IMAGE...",
		Short: "Remove names from the local store (blobs go at the next prune)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := g.store()
			if err != nil {
				return err
			}
			for _, a := range args {
				names, err := transfer.Remove(st, a)
				if err != nil {
					return err
				}
				for _, n := range names {
					fmt.Fprintf(cmd.OutOrStdout(), "Untagged: %s\n", n)
				}
			}
			return nil
		},
	}
}

func newPruneCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "prune",
		Short: "Delete blobs that no stored image uses, and leftovers of interrupted transfers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := g.store()
			if err != nil {
				return err
			}
			// Working containers keep their base images.
			var bases []v1.Descriptor
			cs, err := container.Open(st).List()
			if err != nil {
				return err
			}
			for _, c := range cs {
				bases = append(bases, v1.Descriptor{MediaType: types.DockerManifestSchema2, Digest: c.Digest})
			}
			res, err := st.Prune(bases...)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Deleted %d blobs, freed %s\n", res.Blobs, inspect.HumanSize(res.Bytes))
			return nil
		},
	}
}
