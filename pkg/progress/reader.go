package progress

import (
	"context"
	"io"
)

// Reader counts the bytes read from r into rep under id, and stops with ctx's
// error as soon as ctx is cancelled (another blob failed, or ^C).
func Reader(ctx context.Context, r io.Reader, rep Reporter, id string) io.Reader {
	return &countingReader{ctx: ctx, r: r, rep: rep, id: id}
}

type countingReader struct {
	ctx context.Context
	r   io.Reader
	rep Reporter
	id  string
}

func (c *countingReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := c.r.Read(p)
	if n > 0 {
		c.rep.Add(c.id, int64(n))
	}
	return n, err
}
