package registry

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
)

// pingCache answers a registry's ping from the first answer this process
// got. go-containerregistry pings (GET /v2/: does the registry want
// credentials, and which) before every pull, push or HEAD it starts, and a
// plain-HTTP registry first gets an HTTPS try that fails; Docker's
// challenge manager asks once per registry. A build --push reads its base
// and pushes, so it paid one to three round trips more than it needed.
// Only answers that say how to authenticate (200, 401) are kept, and an
// HTTPS try that the server answered in plain HTTP; anything else is asked
// again.
type pingCache struct {
	base http.RoundTripper

	mu      sync.Mutex
	answers map[string]pingAnswer // by scheme://host
}

type pingAnswer struct {
	status int
	header http.Header
	body   []byte
	err    error // the server speaks plain HTTP (an https:// ping)
}

func newPingCache(base http.RoundTripper) *pingCache {
	return &pingCache{base: base, answers: map[string]pingAnswer{}}
}

// maxPingBody is the most of a ping's body kept (registries send "{}" or a
// short error list).
const maxPingBody = 64 << 10

func (c *pingCache) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method != http.MethodGet || r.URL.Path != "/v2/" || r.URL.RawQuery != "" || r.Header.Get("Authorization") != "" {
		return c.base.RoundTrip(r)
	}
	key := r.URL.Scheme + "://" + r.URL.Host
	c.mu.Lock()
	a, ok := c.answers[key]
	c.mu.Unlock()
	if ok {
		return a.replay(r)
	}
	resp, err := c.base.RoundTrip(r)
	if err != nil {
		if r.URL.Scheme == "https" && plainHTTP(err) {
			c.remember(key, pingAnswer{err: err})
		}
		return nil, err
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusUnauthorized {
		return resp, nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxPingBody+1))
	if err != nil || len(body) > maxPingBody { // not a ping's answer: passed on as it came
		resp.Body = readCloser{io.MultiReader(bytes.NewReader(body), resp.Body), resp.Body}
		return resp, nil
	}
	resp.Body.Close()
	a = pingAnswer{status: resp.StatusCode, header: resp.Header.Clone(), body: body}
	c.remember(key, a)
	return a.replay(r)
}

// plainHTTP tells whether err is a TLS handshake answered in plain HTTP:
// beneath http.Client a bad record header that reads "HTTP/" (the client
// words it as http.ErrSchemeMismatch, which a wrapping transport may pass
// on).
func plainHTTP(err error) bool {
	var header tls.RecordHeaderError
	if errors.As(err, &header) {
		return string(header.RecordHeader[:]) == "HTTP/"
	}
	return errors.Is(err, http.ErrSchemeMismatch) || strings.Contains(err.Error(), http.ErrSchemeMismatch.Error())
}

type readCloser struct {
	io.Reader
	io.Closer
}

func (c *pingCache) remember(key string, a pingAnswer) {
	c.mu.Lock()
	c.answers[key] = a
	c.mu.Unlock()
}

// replay is the kept answer as a fresh response to r.
func (a pingAnswer) replay(r *http.Request) (*http.Response, error) {
	if a.err != nil {
		return nil, a.err
	}
	return &http.Response{
		Status:        fmt.Sprintf("%d %s", a.status, http.StatusText(a.status)),
		StatusCode:    a.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        a.header.Clone(),
		Body:          io.NopCloser(bytes.NewReader(a.body)),
		ContentLength: int64(len(a.body)),
		Request:       r,
	}, nil
}
