package registry

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// fakeRegistry answers as a base transport would, counting what reaches it.
type fakeRegistry struct {
	asked  map[string]int // by method and URL
	answer func(r *http.Request) (*http.Response, error)
}

func (f *fakeRegistry) RoundTrip(r *http.Request) (*http.Response, error) {
	f.asked[r.Method+" "+r.URL.String()]++
	return f.answer(r)
}

// get is rt's answer to a GET of url, its body read.
func get(t *testing.T, rt http.RoundTripper, url string) (*http.Response, string, error) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, string(body), err
}

// A registry's ping (GET /v2/: how it wants callers to authenticate) is
// asked once per process and answered again from memory, as Docker's
// challenge manager does: a build --push pinged the base's registry for
// the pull and again for the push.
func TestAPingIsAskedOncePerRegistry(t *testing.T) {
	plainOnly := errors.New(`http: server gave HTTP response to HTTPS client`)
	f := &fakeRegistry{asked: map[string]int{}, answer: func(r *http.Request) (*http.Response, error) {
		switch {
		case r.URL.Scheme == "https" && r.URL.Host == "plain.test":
			return nil, plainOnly
		case r.URL.Host == "down.test":
			return &http.Response{StatusCode: 503, Header: http.Header{}, Body: io.NopCloser(strings.NewReader("busy")), Request: r}, nil
		case r.URL.Path == "/v2/":
			h := http.Header{"Www-Authenticate": {`Bearer realm="https://auth.test/token",service="r"`}}
			return &http.Response{StatusCode: 401, Header: h, Body: io.NopCloser(strings.NewReader(`{"errors":[]}`)), Request: r}, nil
		}
		return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader("manifest")), Request: r}, nil
	}}
	rt := newPingCache(f)
	for range 3 {
		resp, body, err := get(t, rt, "https://auth.test/v2/")
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") != `Bearer realm="https://auth.test/token",service="r"` || body != `{"errors":[]}` {
			t.Fatalf("replayed ping: %d %v %q", resp.StatusCode, resp.Header, body)
		}
		// A plain-HTTP registry's https try fails the same way each time.
		if _, _, err := get(t, rt, "https://plain.test/v2/"); !errors.Is(err, plainOnly) {
			t.Errorf("https ping of a plain-HTTP registry: %v", err)
		}
		// Not pings: always asked. Failures: asked again.
		get(t, rt, "https://auth.test/v2/app/manifests/1")
		get(t, rt, "https://down.test/v2/")
	}
	for url, want := range map[string]int{
		"GET https://auth.test/v2/":                1,
		"GET https://plain.test/v2/":               1,
		"GET https://auth.test/v2/app/manifests/1": 3,
		"GET https://down.test/v2/":                3,
	} {
		if f.asked[url] != want {
			t.Errorf("%s asked %d times, want %d", url, f.asked[url], want)
		}
	}
}

// A plain-HTTP registry's https try fails the same way each time, as a
// real transport reports it (beneath http.Client, which alone words it
// "server gave HTTP response to HTTPS client"): it is tried once per
// process.
func TestAPlainRegistrysHTTPSTryIsMadeOnce(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("{}")) }))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	rt := newPingCache(http.DefaultTransport.(*http.Transport).Clone())
	url := "https://" + strings.TrimPrefix(srv.URL, "http://") + "/v2/"
	_, _, first := get(t, rt, url)
	if first == nil {
		t.Fatal("an https ping of a plain-HTTP server succeeded")
	}
	_, _, again := get(t, rt, url)
	if again == nil || again.Error() != first.Error() {
		t.Errorf("the second try failed with %v, want %v", again, first)
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections for two https pings, want 1", n)
	}
}
