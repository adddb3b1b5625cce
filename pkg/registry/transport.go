package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// RetryPolicy says how hard NewTransport's transport tries. The zero value is
// the production policy.
type RetryPolicy struct {
	Attempts      int           // total tries per request including the first; 0 → 5
	MinBackoff    time.Duration // 0 → 200ms, doubled each try with jitter
	MaxBackoff    time.Duration // 0 → 10s
	MaxRetryAfter time.Duration // cap on a server's Retry-After; 0 → 60s (a longer Retry-After ends in an error saying how long the registry asked to wait)

	// Sleep waits d or until ctx is done; nil means a real sleep. Tests
	// inject a fake that records d.
	Sleep func(ctx context.Context, d time.Duration) error
	// OnRetry, if set, is called before each retry, for progress messages.
	// attempt is the number of the try about to be made (2 for the first
	// retry); reason says what went wrong and how long until the retry.
	OnRetry func(req *http.Request, attempt int, reason string)
}

// NewTransport wraps base (nil means a clone of http.DefaultTransport) so that
// requests survive a flaky registry:
//
//   - answers 408, 429, 500, 502, 503 and 504, and transport errors before an
//     answer (connection refused or reset, EOF before headers, timeouts) are
//     retried with exponential backoff, for requests that can be replayed:
//     those with no body or with GetBody set. Retry-After (seconds or an HTTP
//     date) on 429 and 503 is honoured up to MaxRetryAfter; a longer one is
//     an error at once.
//   - the body of a GET of a blob (a URL path containing "/blobs/") that
//     breaks part way is resumed with a Range request from the byte it broke
//     at, with the original headers (Authorization included). A 206 from that
//     byte continues the stream; a 200 has the bytes already delivered
//     skipped. The caller reads one uninterrupted body. Only blobs are
//     resumed: they are content-addressed, so the two halves are known to
//     belong together, which a manifest fetched by tag is not.
//   - when it gives up, the error is one line naming the method, URL path and
//     what happened, e.g. "GET /v2/x/blobs/sha256:ab…: registry answered 503
//     Service Unavailable 5 times". It wraps the registry's
//     *transport.Error, when there was one, and the last network error.
//
// It starts no goroutines. Waits end early when the request's context is
// done.
func NewTransport(base http.RoundTripper, p RetryPolicy) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport.(*http.Transport).Clone()
	}
	t := &resilientTransport{
		base:          base,
		attempts:      p.Attempts,
		minBackoff:    p.MinBackoff,
		maxBackoff:    p.MaxBackoff,
		maxRetryAfter: p.MaxRetryAfter,
		sleep:         p.Sleep,
		onRetry:       p.OnRetry,
	}
	switch {
	case t.attempts == 0:
		t.attempts = 5
	case t.attempts < 0:
		t.attempts = 1
	}
	if t.minBackoff <= 0 {
		t.minBackoff = 200 * time.Millisecond
	}
	if t.maxBackoff <= 0 {
		t.maxBackoff = 10 * time.Second
	}
	if t.maxRetryAfter <= 0 {
		t.maxRetryAfter = 60 * time.Second
	}
	if t.sleep == nil {
		t.sleep = sleepContext
	}
	return t
}

type resilientTransport struct {
	base          http.RoundTripper
	attempts      int
	minBackoff    time.Duration
	maxBackoff    time.Duration
	maxRetryAfter time.Duration
	sleep         func(context.Context, time.Duration) error
	onRetry       func(*http.Request, int, string)
}

// retryFailure is the error the transport gives up with: a one-line message
// of its own, wrapping the registry's error or the network error.
type retryFailure struct {
	msg string
	err error
}

func (e *retryFailure) Error() string { return e.msg }
func (e *retryFailure) Unwrap() error { return e.err }

func (t *resilientTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	prefix := req.Method + " " + req.URL.Path

	var (
		reason, last string // what went wrong this try, and the try before
		same         int    // how many tries in a row failed for the same reason
	)
	for attempt := 1; ; attempt++ {
		r := req
		if attempt > 1 {
			r = req.Clone(ctx)
			if req.GetBody != nil {
				body, err := req.GetBody()
				if err != nil {
					return nil, fmt.Errorf("%s: replaying the request body: %w", prefix, err)
				}
				r.Body = body
			}
		}

		resp, err := t.base.RoundTrip(r)
		wait := time.Duration(-1) // backoff unless the registry says otherwise
		var cause error
		switch {
		case err != nil:
			if !replayable || ctx.Err() != nil || !retriableNetError(err) {
				return nil, err
			}
			reason, cause = describeNetError(err), err
		case retriableStatus(resp.StatusCode):
			if !replayable {
				return resp, nil
			}
			reason = "registry answered " + statusText(resp.StatusCode)
			rerr := registryError(resp)
			cause = rerr
			if ra, ok := retryAfter(resp); ok {
				if ra > t.maxRetryAfter {
					return nil, &retryFailure{
						msg: fmt.Sprintf("%s: %s and asked to wait %v before trying again, longer than the %v gantry waits%s",
							prefix, reason, ra, t.maxRetryAfter, diagnostics(rerr)),
						err: rerr,
					}
				}
				wait = ra
			}
		default:
			if req.Method == http.MethodGet && resp.StatusCode == http.StatusOK &&
				req.Header.Get("Range") == "" && isBlobRequest(req) {
				resp.Body = t.newResumableBody(req, resp)
			}
			if req.Method == http.MethodGet && strings.Contains(req.URL.Path, "/manifests/") {
				return limitManifest(prefix, resp)
			}
			return resp, nil
		}

		if reason == last {
			same++
		} else {
			last, same = reason, 1
		}
		if attempt >= t.attempts {
			msg := prefix + ": " + reason
			if same == attempt {
				msg += " " + countTimes(attempt)
			} else {
				msg += fmt.Sprintf(" (gave up after %d tries)", attempt)
			}
			if err != nil {
				msg += ": " + err.Error()
			} else {
				msg += diagnostics(cause)
			}
			return nil, &retryFailure{msg: msg, err: cause}
		}

		if wait < 0 {
			wait = t.backoff(attempt)
		}
		if t.onRetry != nil {
			t.onRetry(req, attempt+1, fmt.Sprintf("%s, retrying in %v", reason, wait.Round(time.Millisecond)))
		}
		if err := t.wait(ctx, wait); err != nil {
			return nil, &retryFailure{msg: fmt.Sprintf("%s: %s, then stopped waiting to retry: %v", prefix, reason, err), err: err}
		}
	}
}

// backoff is the wait before try n+1: MinBackoff doubled n-1 times, plus up
// to a quarter more so that parallel downloads don't retry in step, capped at
// MaxBackoff.
func (t *resilientTransport) backoff(n int) time.Duration {
	d := t.minBackoff
	for i := 1; i < n && d < t.maxBackoff; i++ {
		d *= 2
	}
	d = min(d, t.maxBackoff)
	d += rand.N(d/4 + 1)
	return min(d, t.maxBackoff)
}

// wait sleeps d with the policy's Sleep and reports the context's error if it
// ended first, even when a fake Sleep did not notice.
func (t *resilientTransport) wait(ctx context.Context, d time.Duration) error {
	if err := t.sleep(ctx, d); err != nil {
		return err
	}
	return ctx.Err()
}

func sleepContext(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// retriableStatus is true for answers that say "not now" rather than "no".
func retriableStatus(code int) bool {
	switch code {
	case http.StatusRequestTimeout, http.StatusTooManyRequests,
		http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// retriableNetError is true for failures of the connection rather than of
// the request: refused, reset or closed connections, EOF before an answer,
// timeouts and temporary DNS failures. TLS and certificate errors, unknown
// hosts and cancellation are not.
func retriableNetError(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	for _, target := range []error{
		io.EOF, io.ErrUnexpectedEOF, net.ErrClosed,
		syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.ECONNABORTED,
		syscall.EPIPE, syscall.ETIMEDOUT, syscall.EHOSTUNREACH, syscall.ENETUNREACH,
	} {
		if errors.Is(err, target) {
			return true
		}
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return dnsErr.IsTimeout || dnsErr.IsTemporary
	}
	var netErr net.Error
	return errors.As(err, &netErr) && netErr.Timeout()
}

// describeNetError names a connection failure in a few words.
func describeNetError(err error) string {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNABORTED), errors.Is(err, syscall.EPIPE):
		return "connection reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return "connection closed before the registry answered"
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return "timed out"
	}
	return "network error"
}

func statusText(code int) string {
	if s := http.StatusText(code); s != "" {
		return fmt.Sprintf("%d %s", code, s)
	}
	return strconv.Itoa(code)
}

func countTimes(n int) string {
	if n == 1 {
		return "once"
	}
	return fmt.Sprintf("%d times", n)
}

// registryError reads and closes resp's body and returns it as the
// registry's structured error, with its codes and messages.
func registryError(resp *http.Response) *transport.Error {
	defer resp.Body.Close()
	err := transport.CheckError(resp) // reads at most a bounded prefix of the body
	var te *transport.Error
	if errors.As(err, &te) {
		return te
	}
	// The body could not be read; the status is all there is.
	return &transport.Error{StatusCode: resp.StatusCode, Request: resp.Request}
}

// diagnostics is ": CODE: message; …" for a registry error that had any.
func diagnostics(err error) string {
	var te *transport.Error
	if !errors.As(err, &te) || len(te.Errors) == 0 {
		return ""
	}
	parts := make([]string, len(te.Errors))
	for i, d := range te.Errors {
		parts[i] = d.String()
	}
	return ": " + strings.ReplaceAll(strings.Join(parts, "; "), "\n", " ")
}

// retryAfter is the wait a 429 or 503 answer asks for in its Retry-After
// header, in seconds or as an HTTP date.
func retryAfter(resp *http.Response) (time.Duration, bool) {
	if resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusServiceUnavailable {
		return 0, false
	}
	v := strings.TrimSpace(resp.Header.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		if secs > int64(math.MaxInt64/time.Second) {
			return time.Duration(math.MaxInt64), true
		}
		return time.Duration(secs) * time.Second, true
	}
	if when, err := http.ParseTime(v); err == nil {
		return max(time.Until(when), 0), true
	}
	return 0, false
}

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

// limitManifest refuses a manifest answer over MaxManifestSize before its
// body is read when the registry declares its length, and cuts a body that
// grows beyond it otherwise: a manifest is read whole into memory.
func limitManifest(prefix string, resp *http.Response) (*http.Response, error) {
	if resp.ContentLength > MaxManifestSize {
		resp.Body.Close()
		return nil, fmt.Errorf("%s: the manifest is %d bytes, more than the %d gantry reads (a registry error, or a hostile one)", prefix, resp.ContentLength, MaxManifestSize)
	}
	resp.Body = &limitedBody{rc: resp.Body, left: MaxManifestSize,
		err: fmt.Errorf("%s: the manifest goes on past the %d bytes gantry reads (a registry error, or a hostile one)", prefix, MaxManifestSize)}
	return resp, nil
}

// limitedBody fails once more than left bytes come; it reads one byte past
// the limit to tell a body of exactly the limit from a longer one.
type limitedBody struct {
	rc   io.ReadCloser
	left int64
	err  error
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		return 0, b.err
	}
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }
