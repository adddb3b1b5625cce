package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/gantry-build/gantry/pkg/build"
	"github.com/gantry-build/gantry/pkg/progress"
)

// resultOnly is -q or --progress quiet: standard output holds the result
// alone (an image ID, a name), standard error nothing but an error.
func (g *globals) resultOnly() bool {
	return g.quiet || g.progress == progress.ModeQuiet
}

// deliverResult sends what a verb made to its targets and prints where it
// went, even the part done before a failure; with resultOnly, the image ID
// alone, as docker build -q, docker commit and docker import print it.
func deliverResult(cmd *cobra.Command, g *globals, m *maker, a build.Artifact, targets build.Targets) error {
	ds, err := build.Deliver(cmd.Context(), m.st, m.rc, a, targets, m.rep)
	m.rep.Close()
	if err == nil && g.resultOnly() {
		return printImageID(cmd.OutOrStdout(), a)
	}
	for _, d := range ds {
		fmt.Fprintf(cmd.OutOrStdout(), "%s %s %s\n", d.What, d.Where, d.Digest)
	}
	return err
}

// printImageID writes a's image ID: the config digest, or an index's own
// digest for several platforms.
func printImageID(w io.Writer, a build.Artifact) error {
	id, err := a.ID()
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, id)
	return err
}
