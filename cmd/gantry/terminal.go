package main

import (
	"errors"
	"io"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// errTerminal is docker save's refusal to write an archive to a terminal.
var errTerminal = errors.New("cowardly refusing to save to a terminal. Use the -o flag or redirect")

// archiveStdout is where save and export write without -o: standard
// output, as docker save does, unless that is a terminal.
func archiveStdout(cmd *cobra.Command) (io.Writer, error) {
	w := cmd.OutOrStdout()
	if isTerminal(w) {
		return nil, errTerminal
	}
	return stdout(cmd), nil // writes that end with the command's context
}

// isTerminal reports whether v (a reader or writer) is a terminal.
func isTerminal(v any) bool {
	f, ok := v.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
