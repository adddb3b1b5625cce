package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// A blob download cut in the middle is resumed from the byte it reached.

// isBlobRequest is true for a GET of a blob, including the hops of a
// redirect from a registry's blob URL to wherever the blob is stored.
func isBlobRequest(req *http.Request) bool {
	for r := req; r != nil; {
		if strings.Contains(r.URL.Path, "/blobs/") {
			return true
		}
		if r.Response == nil {
			break
		}
		r = r.Response.Request
	}
	return false
}

// resumableBody is the body of a blob download that reconnects with a Range
// request when the connection breaks part way.
type resumableBody struct {
	t      *resilientTransport
	req    *http.Request   // the original request: URL and headers to repeat
	ctx    context.Context // req's context, also cancelled by Close
	cancel context.CancelFunc
	prefix string // "GET /path" for errors
	total  int64  // the blob's length, -1 if unknown
	// ranged is false when the first answer was transparently decompressed:
	// its byte offsets are not the ones a Range header would address.
	ranged bool

	mu     sync.Mutex    // guards body swaps against Close
	body   io.ReadCloser // the current connection's body
	closed bool

	n       int64 // bytes delivered to the caller
	fresh   int64 // bytes delivered from the current connection
	fails   int   // tries in a row that delivered nothing
	pending error // a break seen along with data, acted on at the next Read
	err     error // the final result, repeated to later Reads
}

func (t *resilientTransport) newResumableBody(req *http.Request, resp *http.Response) *resumableBody {
	ctx, cancel := context.WithCancel(req.Context())
	return &resumableBody{
		t:      t,
		req:    req,
		ctx:    ctx,
		cancel: cancel,
		prefix: req.Method + " " + req.URL.Path,
		total:  resp.ContentLength,
		ranged: !resp.Uncompressed,
		body:   resp.Body,
	}
}

func (b *resumableBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	for {
		if b.pending != nil {
			cause := b.pending
			b.pending = nil
			if err := b.resume(cause); err != nil {
				b.err = err
				return 0, err
			}
		}
		n, err := b.body.Read(p)
		b.n += int64(n)
		b.fresh += int64(n)
		if err == nil {
			return n, nil
		}
		if err == io.EOF {
			if b.total < 0 || b.n >= b.total {
				b.err = io.EOF
				return n, io.EOF
			}
			// A clean end short of the length promised: a server that sent
			// less than the range asked for. Carry on from where it stopped.
			err = io.ErrUnexpectedEOF
		}
		if b.isClosed() || b.ctx.Err() != nil {
			b.err = err
			return n, err
		}
		b.pending = err
		if n > 0 {
			return n, nil
		}
	}
}

func (b *resumableBody) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	body := b.body
	b.mu.Unlock()
	b.cancel()
	return body.Close()
}

func (b *resumableBody) isClosed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}

// resume replaces the broken connection with one that continues at byte b.n,
// trying up to Attempts times in a row without progress.
func (b *resumableBody) resume(cause error) error {
	_ = b.body.Close()
	if b.fresh > 0 {
		b.fails = 0
	}
	b.fresh = 0

	dropped := fmt.Sprintf("%s: connection dropped at byte %d", b.prefix, b.n)
	reason := fmt.Sprintf("connection dropped at byte %d", b.n)
	var lastErr error = cause
	var wait time.Duration = -1
	for {
		if b.fails >= b.t.attempts {
			return &retryFailure{
				msg: fmt.Sprintf("%s and %d tries to resume failed, the last: %s", dropped, b.fails, reason),
				err: lastErr,
			}
		}
		b.fails++
		if wait < 0 {
			wait = b.t.backoff(b.fails)
		}
		if b.t.onRetry != nil {
			b.t.onRetry(b.req, b.fails+1, fmt.Sprintf("%s, resuming in %v", reason, wait.Round(time.Millisecond)))
		}
		if err := b.t.wait(b.ctx, wait); err != nil {
			return b.stopped(err)
		}
		wait = -1

		r := b.req.Clone(b.ctx)
		if b.ranged {
			r.Header.Set("Range", rangeFrom(b.n, b.total))
		}
		resp, err := b.t.base.RoundTrip(r)
		if err != nil {
			if b.ctx.Err() != nil {
				return b.stopped(err)
			}
			if !retriableNetError(err) {
				return &retryFailure{msg: fmt.Sprintf("%s and resuming failed: %v", dropped, err), err: err}
			}
			reason, lastErr = describeNetError(err)+": "+err.Error(), err
			continue
		}

		switch code := resp.StatusCode; {
		case retriableStatus(code):
			rerr := registryError(resp)
			reason, lastErr = "registry answered "+statusText(code)+diagnostics(rerr), rerr
			if ra, ok := retryAfter(resp); ok {
				if ra > b.t.maxRetryAfter {
					return &retryFailure{
						msg: fmt.Sprintf("%s and resuming failed: %s and asked to wait %v, longer than the %v gantry waits", dropped, reason, ra, b.t.maxRetryAfter),
						err: rerr,
					}
				}
				wait = ra
			}
			continue

		case code == http.StatusPartialContent && b.ranged:
			start, total, ok := parseContentRange(resp.Header.Get("Content-Range"))
			if !ok || start != b.n || (total >= 0 && b.total >= 0 && total != b.total) {
				resp.Body.Close()
				return &retryFailure{msg: fmt.Sprintf("%s and the registry refused to resume: it answered %s with Content-Range %q",
					dropped, statusText(code), resp.Header.Get("Content-Range")), err: cause}
			}

		case code == http.StatusOK:
			if b.total >= 0 && resp.ContentLength >= 0 && resp.ContentLength != b.total {
				resp.Body.Close()
				return &retryFailure{msg: fmt.Sprintf("%s and the registry refused to resume: it sent %d bytes instead of %d",
					dropped, resp.ContentLength, b.total), err: cause}
			}
			// The registry ignored Range: skip what the caller already has.
			if _, err := io.CopyN(io.Discard, resp.Body, b.n); err != nil {
				resp.Body.Close()
				if b.ctx.Err() != nil {
					return b.stopped(err)
				}
				reason, lastErr = "connection dropped again while skipping to byte "+strconv.FormatInt(b.n, 10), err
				continue
			}

		default:
			rerr := registryError(resp)
			return &retryFailure{msg: fmt.Sprintf("%s and the registry refused to resume: it answered %s%s",
				dropped, statusText(code), diagnostics(rerr)), err: errors.Join(cause, rerr)}
		}

		b.mu.Lock()
		if b.closed {
			b.mu.Unlock()
			resp.Body.Close()
			return errors.New("read on closed response body")
		}
		b.body = resp.Body
		b.mu.Unlock()
		return nil
	}
}

// stopped is the error for a resumption ended by Close or the context.
func (b *resumableBody) stopped(err error) error {
	if b.isClosed() {
		return errors.New("read on closed response body")
	}
	return &retryFailure{msg: fmt.Sprintf("%s: connection dropped at byte %d, then stopped resuming: %v", b.prefix, b.n, err), err: err}
}

// rangeFrom asks for the rest of a blob from byte n. With a known length it
// names the last byte too: "bytes=n-" is as valid, but some registries
// (go-containerregistry's own among them) only parse the closed form.
func rangeFrom(n, total int64) string {
	if total > n {
		return fmt.Sprintf("bytes=%d-%d", n, total-1)
	}
	return fmt.Sprintf("bytes=%d-", n)
}

// parseContentRange reads "bytes START-END/TOTAL" (TOTAL may be "*", giving
// -1).
func parseContentRange(s string) (start, total int64, ok bool) {
	rest, found := strings.CutPrefix(strings.TrimSpace(s), "bytes ")
	if !found {
		return 0, 0, false
	}
	span, size, found := strings.Cut(rest, "/")
	if !found {
		return 0, 0, false
	}
	first, _, found := strings.Cut(span, "-")
	if !found {
		return 0, 0, false
	}
	start, err := strconv.ParseInt(strings.TrimSpace(first), 10, 64)
	if err != nil || start < 0 {
		return 0, 0, false
	}
	total = -1
	if size = strings.TrimSpace(size); size != "*" {
		if total, err = strconv.ParseInt(size, 10, 64); err != nil {
			return 0, 0, false
		}
	}
	return start, total, true
}
