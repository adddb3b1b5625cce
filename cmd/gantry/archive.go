package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/gantry-build/gantry/internal/compress"
	"github.com/spf13/cobra"

	"github.com/gantry-build/gantry/internal/atomicfile"
	"github.com/gantry-build/gantry/pkg/archive"
	"github.com/gantry-build/gantry/pkg/store"
	"github.com/gantry-build/gantry/pkg/transfer"
)

func newSaveCommand(g *globals) *cobra.Command {
	var output, format, pull string
	var compressed bool
	cmd := &cobra.Command{
		Use:   "save IMAGE... [-o FILE]",
		Short: "Write images to one archive that docker load reads (or an OCI layout tar), pulling those not stored",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var stdout io.Writer
			if output == "" || output == "-" {
				var err error
				if stdout, err = archiveStdout(cmd); err != nil {
					return err
				}
			}
			want, err := g.wantPlatform()
			if err != nil {
				return err
			}
			opts := transfer.SaveOptions{
				// OCI layouts get OCI media types, as skopeo writes them: umoci
				// and other OCI-only tools refuse Docker media types.
				SaveOptions: archive.SaveOptions{Format: format, Platform: want, OCIMediaTypes: format == "oci", CompressedLayers: compressed},
			}
			var st *store.Store
			switch pull {
			case "missing":
				if st, opts.Registry, opts.Progress, err = g.transferSetup(); err != nil {
					return err
				}
				defer opts.Progress.Close()
			case "never":
				if st, err = g.store(); err != nil {
					return err
				}
			default:
				return fmt.Errorf("--pull %q: want missing or never", pull)
			}
			save := func(w io.Writer) error { return transfer.Save(cmd.Context(), st, w, args, opts) }
			if stdout != nil {
				return save(stdout)
			}
			return atomicfile.Write(output, func(w io.Writer) error {
				if strings.HasSuffix(output, ".gz") || strings.HasSuffix(output, ".tgz") {
					zw, err := compress.NewWriter(w, compress.Gzip)
					if err != nil {
						return err
					}
					if err := save(zw); err != nil {
						return err
					}
					return zw.Close()
				}
				return save(w)
			})
		},
	}
	cmd.Flags().StringVar(&pull, "pull", "missing", "images the store lacks: missing pulls them (the archive is written as they arrive), never fails")
	cmd.Flags().StringVarP(&output, "output", "o", "", "archive to write; a .gz name compresses it (default: standard output, unless a terminal)")
	cmd.Flags().StringVar(&format, "format", "docker", "archive format: docker or oci")
	cmd.Flags().BoolVar(&compressed, "compressed-layers", false, "docker format: keep layers gzip-compressed (smaller, faster; docker load ≥ 1.10 reads it; zstd layers are saved uncompressed)")
	return cmd
}

func newLoadCommand(g *globals) *cobra.Command {
	var input string
	cmd := &cobra.Command{
		Use:   "load [-i FILE]",
		Short: "Store the images of a docker save archive or OCI layout (from standard input without -i)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := g.store()
			if err != nil {
				return err
			}
			rep, err := g.reporter()
			if err != nil {
				return err
			}
			var res []transfer.LoadResult
			if input == "" || input == "-" {
				res, err = transfer.LoadReader(cmd.Context(), st, cmd.InOrStdin(), rep)
			} else {
				res, err = transfer.Load(cmd.Context(), st, input, rep)
			}
			rep.Close()
			if err != nil {
				return err
			}
			for _, r := range res {
				if len(r.Names) == 0 {
					fmt.Fprintf(cmd.OutOrStdout(), "Loaded image ID: %s\n", r.ID)
				}
				for _, n := range r.Names {
					fmt.Fprintf(cmd.OutOrStdout(), "Loaded image: %s\n", n)
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&input, "input", "i", "", "archive file or OCI layout directory (default: standard input)")
	return cmd
}
