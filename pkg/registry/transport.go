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
