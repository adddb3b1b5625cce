package main

import (
	"context"
	"io"

	"github.com/spf13/cobra"
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
