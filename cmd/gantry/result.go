package main

import (
	"fmt"
	"io"

	"github.com/gantry-build/gantry/pkg/images"
	"github.com/gantry-build/gantry/pkg/progress"
)

// resultOnly is -q or --progress quiet: standard output holds the result
// alone (an image ID, a name), standard error nothing but an error.
func (g *globals) resultOnly() bool {
	return g.quiet || g.progress == progress.ModeQuiet
}

// printImageID writes a's image ID: the config digest, or an index's own
// digest for several platforms.
func printImageID(w io.Writer, a images.Artifact) error {
	id, err := a.ID()
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, id)
	return err
}
