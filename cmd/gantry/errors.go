package main

import (
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gantry-build/gantry/internal/terminal"
	"github.com/gantry-build/gantry/pkg/progress"
)

// printError writes the error a command ended with: "gantry: " and its
// text, the lines after the first (a RUN failure's last output) as they
// are, indented; with --progress json, a fail event instead, so that every
// line on standard error is JSON. root may be nil (before flags are read).
func printError(w io.Writer, root *cobra.Command, err error) {
	if root != nil {
		if f := root.PersistentFlags().Lookup("progress"); f != nil && f.Value.String() == progress.ModeJSON {
			progress.WriteFailure(w, err)
			return
		}
	}
	io.WriteString(w, errorText(err))
}

// errorText is "gantry: " and err's text, one line per line of it: the
// first after the prefix, the others indented; blank and trailing spaces
// trimmed, spaces inside a line (a quoted command) kept.
func errorText(err error) string {
	var b strings.Builder
	b.WriteString("gantry: ")
	first := true
	for _, line := range strings.Split(strings.TrimSpace(err.Error()), "\n") {
		line = strings.TrimRight(line, " \t\r")
		if line == "" {
			continue
		}
		if !first {
			b.WriteString("  ")
		}
		// Errors quote what registries, archives and images say: escaped,
		// line by line, so that none can drive the terminal.
		b.WriteString(terminal.Escape(line))
		b.WriteByte('\n')
		first = false
	}
	return b.String()
}
