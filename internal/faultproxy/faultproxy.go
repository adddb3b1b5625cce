// Package faultproxy is an HTTP reverse proxy for tests that stands between a
// client and a test server and injects faults on request: error answers,
// delays, throttled bodies and connections cut in the middle of a body. It
// listens on loopback only and forwards everything else untouched (headers,
// Range requests, bodies), so retry and resumption code can be exercised
// against a real server such as go-containerregistry's in-memory registry.
package faultproxy

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Fault describes what to do to matching requests instead of, or on top of,
// forwarding them. Delay comes first; then Hangup, else Status, else the
// request is forwarded with DropAfter and BytesPerSecond applied to the
// answer's body. A Fault with only Method, PathContains and Times set
// forwards unchanged (it still uses up a match and is marked in the log).
type Fault struct {
	Method       string // "" matches any method
	PathContains string // "" matches any path, e.g. "/blobs/"
	Times        int    // how many matching requests it hits; 0 means 1

	Status     int    // answer this status instead of forwarding (e.g. 500, 503, 429)
	RetryAfter string // Retry-After header value sent with Status

	// DropAfter forwards the request but cuts the connection (hijack and
	// close) after this many bytes of the response body, so the client sees
	// an unexpected EOF. 0 means no cut.
	DropAfter int64

	// Hangup closes the connection without answering at all, so the client
	// sees EOF before any response header.
	Hangup bool

	Delay          time.Duration // wait before answering
	BytesPerSecond int64         // throttle the response body; 0 means no limit
}

// Request is what the proxy logged about one request it received.
type Request struct {
	Method string
	Path   string
	Range  string // the request's Range header
	Status int    // status sent; 0 if the connection was closed before a status
	Fault  bool   // whether a queued Fault applied to this request
}

// Proxy is a running fault-injecting proxy. Its methods are safe for
// concurrent use.
type Proxy struct {
	target   *url.URL
	ln       net.Listener
	srv      *http.Server
	upstream *http.Transport
	done     chan struct{} // closed by Close to cut short delays and throttling
	served   chan struct{} // closed when Serve has returned
	active   sync.WaitGroup

	mu     sync.Mutex
	closed bool
	faults []*queuedFault
	log    []Request
}

type queuedFault struct {
	Fault
	left int
}

// New starts a proxy on 127.0.0.1 forwarding to target, a URL such as an
// httptest server's. It panics if target is not an absolute URL or it cannot
// listen, as httptest.NewServer does. Close stops it.
func New(target string) *Proxy {
	u, err := url.Parse(target)
	if err != nil || u.Scheme == "" || u.Host == "" {
		panic(fmt.Sprintf("faultproxy: target %q is not an absolute URL", target))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("faultproxy: listen: %v", err))
	}
	p := &Proxy{
		target: u,
		ln:     ln,
		upstream: &http.Transport{
			// No environment proxy, and no transparent gzip: bodies and
			// Accept-Encoding pass through byte for byte, so Range offsets
			// mean the same on both sides.
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
			DisableCompression:  true,
			MaxIdleConnsPerHost: 32,
			IdleConnTimeout:     30 * time.Second,
		},
		done:   make(chan struct{}),
		served: make(chan struct{}),
	}
	p.srv = &http.Server{Handler: http.HandlerFunc(p.serve), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(p.served)
		_ = p.srv.Serve(ln)
	}()
	return p
}

// URL is the proxy's base URL, http://127.0.0.1:PORT.
func (p *Proxy) URL() string { return "http://" + p.Host() }

// Host is the proxy's address, 127.0.0.1:PORT, usable as a registry host.
func (p *Proxy) Host() string { return p.ln.Addr().String() }

// Close stops the proxy: it closes the listener and every connection, ends
// delays and throttled bodies in progress, and waits for its handlers to
// return.
func (p *Proxy) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.mu.Unlock()

	close(p.done)
	_ = p.srv.Close()
	<-p.served
	p.active.Wait()
	p.upstream.CloseIdleConnections()
}

// Add queues a fault. A request gets the first queued fault that matches it;
// each fault hits the next Times matching requests and is then used up.
func (p *Proxy) Add(f Fault) {
	n := f.Times
	if n <= 0 {
		n = 1
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = append(p.faults, &queuedFault{Fault: f, left: n})
}

// Requests returns a copy of the log of requests received so far, in the
// order their answers started. A request is logged before any of its
// response reaches the client, so once a client has seen an answer, the
// request is in the log.
func (p *Proxy) Requests() []Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Request(nil), p.log...)
}

// take removes one use of the first queued fault matching r.
func (p *Proxy) take(r *http.Request) (Fault, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, q := range p.faults {
		if q.Method != "" && !strings.EqualFold(q.Method, r.Method) {
			continue
		}
		if q.PathContains != "" && !strings.Contains(r.URL.Path, q.PathContains) {
			continue
		}
		q.left--
		if q.left <= 0 {
			p.faults = append(p.faults[:i], p.faults[i+1:]...)
		}
		return q.Fault, true
	}
	return Fault{}, false
}

func (p *Proxy) record(e Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.log = append(p.log, e)
}

// enter registers a running handler unless the proxy is closing; the check
// and the Add happen under mu so Close's Wait never races an Add.
func (p *Proxy) enter() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.active.Add(1)
	return true
}

// sleep waits d, or less if the client goes away or the proxy closes; it
// reports whether the whole wait elapsed.
func (p *Proxy) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-p.done:
		return false
	}
}

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request) {
	if !p.enter() {
		hangup(w)
		return
	}
	defer p.active.Done()

	f, faulted := p.take(r)
	entry := Request{Method: r.Method, Path: r.URL.Path, Range: r.Header.Get("Range"), Fault: faulted}

	if f.Delay > 0 && !p.sleep(r.Context(), f.Delay) {
		p.record(entry)
		hangup(w)
		return
	}
	if f.Hangup {
		p.record(entry)
		hangup(w)
		return
	}
	if f.Status != 0 {
		p.answer(w, r, f, entry)
		return
	}
	p.forward(w, r, f, entry)
}

// answer sends f.Status with a registry-style error body, as a registry
// would, so clients that parse error codes have something to parse.
func (p *Proxy) answer(w http.ResponseWriter, r *http.Request, f Fault, entry Request) {
	code := "UNKNOWN"
	switch {
	case f.Status == http.StatusTooManyRequests:
		code = "TOOMANYREQUESTS"
	case f.Status >= 500:
		code = "UNAVAILABLE"
	}
	body := fmt.Sprintf(`{"errors":[{"code":%q,"message":"faultproxy: injected %d"}]}`+"\n", code, f.Status)
	h := w.Header()
	if f.RetryAfter != "" {
		h.Set("Retry-After", f.RetryAfter)
	}
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", fmt.Sprint(len(body)))
	entry.Status = f.Status
	p.record(entry)
	w.WriteHeader(f.Status)
	if r.Method != http.MethodHead {
		p.copyBody(w, r, strings.NewReader(body), f.BytesPerSecond)
	}
}

func (p *Proxy) forward(w http.ResponseWriter, r *http.Request, f Fault, entry Request) {
	out, err := http.NewRequestWithContext(r.Context(), r.Method, p.targetURL(r.URL), r.Body)
	if err != nil {
		entry.Status = http.StatusBadGateway
		p.record(entry)
		http.Error(w, "faultproxy: "+err.Error(), http.StatusBadGateway)
		return
	}
	out.Header = r.Header.Clone()
	removeHopByHop(out.Header)
	out.ContentLength = r.ContentLength
	if r.ContentLength == 0 {
		// A client request with a non-nil body and length 0 would be sent
		// chunked; send no body instead, as the client did.
		out.Body = http.NoBody
	}

	resp, err := p.upstream.RoundTrip(out)
	if err != nil {
		entry.Status = http.StatusBadGateway
		p.record(entry)
		http.Error(w, "faultproxy: "+err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()

	h := w.Header()
	for k, vs := range resp.Header {
		h[k] = append([]string(nil), vs...)
	}
	removeHopByHop(h)
	if loc := h.Get("Location"); loc != "" {
		h.Set("Location", p.rewriteLocation(loc))
	}
	entry.Status = resp.StatusCode
	p.record(entry)
	w.WriteHeader(resp.StatusCode)

	var body io.Reader = resp.Body
	if f.DropAfter > 0 {
		body = io.LimitReader(resp.Body, f.DropAfter)
	}
	if !p.copyBody(w, r, body, f.BytesPerSecond) {
		return
	}
	if f.DropAfter > 0 {
		// Push out what was written, then close the TCP connection under
		// the server's feet: with Content-Length or chunking promised, the
		// client sees an unexpected EOF, as with a real dropped connection.
		_ = http.NewResponseController(w).Flush()
		hangup(w)
	}
}

// copyBody copies src to w, throttled to bps bytes a second when bps > 0.
// It reports whether the copy finished.
func (p *Proxy) copyBody(w http.ResponseWriter, r *http.Request, src io.Reader, bps int64) bool {
	if bps <= 0 {
		_, err := io.Copy(w, src)
		return err == nil
	}
	rc := http.NewResponseController(w)
	chunk := min(max(bps/20, 1), 32<<10)
	buf := make([]byte, chunk)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return false
			}
			_ = rc.Flush()
			if !p.sleep(r.Context(), time.Duration(int64(n)*int64(time.Second)/bps)) {
				return false
			}
		}
		if err == io.EOF {
			return true
		}
		if err != nil {
			return false
		}
	}
}

// hangup closes the client's connection without a further byte.
func hangup(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// Not hijackable (HTTP/2): aborting the handler resets the stream.
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}

func (p *Proxy) targetURL(in *url.URL) string {
	s := p.target.Scheme + "://" + p.target.Host + strings.TrimSuffix(p.target.EscapedPath(), "/") + in.EscapedPath()
	if in.RawQuery != "" {
		s += "?" + in.RawQuery
	}
	return s
}

// rewriteLocation points an absolute Location at the target back at the
// proxy, so redirects and upload URLs keep going through it. Relative ones
// already resolve against the proxy.
func (p *Proxy) rewriteLocation(loc string) string {
	u, err := url.Parse(loc)
	if err != nil || !u.IsAbs() || !strings.EqualFold(u.Host, p.target.Host) {
		return loc
	}
	u.Scheme = "http"
	u.Host = p.Host()
	if prefix := strings.TrimSuffix(p.target.Path, "/"); prefix != "" {
		u.Path = strings.TrimPrefix(u.Path, prefix)
		u.RawPath = ""
	}
	return u.String()
}

// hopByHop are the headers that describe one connection rather than the
// message (RFC 9110, section 7.6.1); a proxy must not forward them.
var hopByHop = []string{
	"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate",
	"Proxy-Authorization", "TE", "Trailer", "Transfer-Encoding", "Upgrade",
}

func removeHopByHop(h http.Header) {
	for _, v := range h.Values("Connection") {
		for _, name := range strings.Split(v, ",") {
			if name = strings.TrimSpace(name); name != "" {
				h.Del(name)
			}
		}
	}
	for _, name := range hopByHop {
		h.Del(name)
	}
}
