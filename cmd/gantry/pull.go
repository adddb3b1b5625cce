package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/gantry-build/gantry/pkg/transfer"
)

func newPullCommand(g *globals) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "pull IMAGE",
		Short: "Download an image from a registry into the local store",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			want, err := g.wantPlatform()
			if err != nil {
				return err
			}
			st, rc, rep, err := g.transferSetup()
			if err != nil {
				return err
			}
			res, err := transfer.Pull(cmd.Context(), st, rc, args[0], transfer.PullOptions{Platform: want, AllPlatforms: all, Progress: rep})
			rep.Close()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if !g.resultOnly() {
				fmt.Fprintf(out, "Digest: %s\n", res.Digest)
				if res.UpToDate {
					fmt.Fprintf(out, "Status: Image is up to date for %s\n", res.Name)
				} else {
					fmt.Fprintf(out, "Status: Downloaded newer image for %s\n", res.Name)
				}
			}
			fmt.Fprintln(out, res.Name)
			return nil
		},
	}
	cmd.Flags().BoolVarP(&all, "all-platforms", "a", false, "keep every platform of a multi-platform image")
	return cmd
}
