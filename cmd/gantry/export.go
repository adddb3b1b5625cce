package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/gantry-build/gantry/internal/atomicfile"
	"github.com/gantry-build/gantry/pkg/build"
	"github.com/gantry-build/gantry/pkg/rootfs"
)

func newExportCommand(g *globals) *cobra.Command {
	var output, dir string
	cmd := &cobra.Command{
		Use:   "export IMAGE (-o ROOTFS.tar | --dir DIR)",
		Short: "Flatten an image's layers into one root filesystem, whiteouts applied",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if (output == "") == (dir == "") {
				return fmt.Errorf("give one of -o FILE (- for standard output) or --dir DIR")
			}
			st, rc, want, err := g.imageReader()
			if err != nil {
				return err
			}
			img, err := build.ResolveImage(cmd.Context(), st, rc, args[0], want)
			if err != nil {
				return err
			}
			if dir != "" {
				return rootfs.Unpack(img, dir)
			}
			write := func(w io.Writer) error {
				rc := rootfs.Flatten(img)
				defer rc.Close()
				_, err := io.Copy(w, rc)
				return err
			}
			if output == "-" {
				return write(stdout(cmd))
			}
			return atomicfile.Write(output, write)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "tar file to write; - for standard output")
	cmd.Flags().StringVar(&dir, "dir", "", "directory to unpack into")
	return cmd
}
