package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/gantry-build/gantry/pkg/transfer"
)

func newPushCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "push IMAGE [DESTINATION]",
		Short: "Upload a stored image to a registry (to its own name, or to DESTINATION)",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, rc, rep, err := g.transferSetup()
			if err != nil {
				return err
			}
			dest := ""
			if len(args) == 2 {
				dest = args[1]
			}
			res, err := transfer.Push(cmd.Context(), st, rc, args[0], dest, rep)
			rep.Close()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if !g.resultOnly() {
				fmt.Fprintf(out, "Digest: %s\n", res.Digest)
			}
			fmt.Fprintln(out, res.Name)
			return nil
		},
	}
}
