package main

import (
	"context"
	"encoding/json"
	"io"

	"github.com/spf13/cobra"

	"github.com/gantry-build/gantry/internal/terminal"
)

// stdout is the command's standard output for a stream (an archive on -o -)
// whose writes end with the context: a write to a pipe nobody reads blocks
// where no context reaches, and an interrupted gantry must still return,
// removing its temporary files, rather than wait for a reader.
func stdout(cmd *cobra.Command) io.Writer {
	return &ctxWriter{ctx: cmd.Context(), w: cmd.OutOrStdout()}
}

type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

type written struct {
	n   int
	err error
}

func (c *ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	done := make(chan written, 1)
	go func() {
		n, err := c.w.Write(p)
		done <- written{n, err}
	}()
	select {
	case r := <-done:
		return r.n, r.err
	case <-c.ctx.Done():
		// The write stays blocked until gantry exits; nothing else
		// touches p meanwhile, the command is ending.
		return 0, c.ctx.Err()
	}
}

// writeJSON prints v as indented JSON, with what a terminal would act on
// escaped: listings carry names and paths images chose.
func writeJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(terminal.JSON(b), '\n'))
	return err
}
