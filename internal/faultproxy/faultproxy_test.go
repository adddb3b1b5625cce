package faultproxy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// backend serves /blob as a fixed body honouring Range, and /redirect with an
// absolute Location pointing at itself.
func backend(t *testing.T, blob []byte) *httptest.Server {
	t.Helper()
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/blob":
			w.Header().Set("Docker-Content-Digest", "sha256:test")
			w.Header().Set("X-Saw-Auth", r.Header.Get("Authorization"))
			http.ServeContent(w, r, "blob", time.Time{}, bytes.NewReader(blob))
		case "/redirect":
			w.Header().Set("Location", srv.URL+"/blob?x=1")
			w.WriteHeader(http.StatusTemporaryRedirect)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func start(t *testing.T, blob []byte) *Proxy {
	t.Helper()
	p := New(backend(t, blob).URL)
	t.Cleanup(p.Close)
	return p
}

func get(t *testing.T, url string, hdr map[string]string) (*http.Response, []byte, error) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	// A fresh transport per request: a cut connection must not be reused,
	// and redirects are not followed.
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

func TestForwardsUnchanged(t *testing.T) {
	blob := bytes.Repeat([]byte("0123456789"), 1000)
	p := start(t, blob)

	resp, body, err := get(t, p.URL()+"/blob", map[string]string{"Authorization": "Bearer tok"})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(body, blob) {
		t.Errorf("body: got %d bytes, want %d", len(body), len(blob))
	}
	if got := resp.Header.Get("Docker-Content-Digest"); got != "sha256:test" {
		t.Errorf("Docker-Content-Digest = %q", got)
	}
	if got := resp.Header.Get("X-Saw-Auth"); got != "Bearer tok" {
		t.Errorf("backend saw Authorization %q, want it passed through", got)
	}

	resp, body, err = get(t, p.URL()+"/blob", map[string]string{"Range": "bytes=9990-"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusPartialContent || string(body) != "0123456789" {
		t.Errorf("Range: got %d %q, want 206 %q", resp.StatusCode, body, "0123456789")
	}
	if got, want := resp.Header.Get("Content-Range"), "bytes 9990-9999/10000"; got != want {
		t.Errorf("Content-Range = %q, want %q", got, want)
	}

	resp, _, err = get(t, p.URL()+"/redirect", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := resp.Header.Get("Location"), p.URL()+"/blob?x=1"; got != want {
		t.Errorf("Location = %q, want %q", got, want)
	}

	want := []Request{
		{Method: "GET", Path: "/blob", Status: 200},
		{Method: "GET", Path: "/blob", Range: "bytes=9990-", Status: 206},
		{Method: "GET", Path: "/redirect", Status: 307},
	}
	if got := p.Requests(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("log:\n got %v\nwant %v", got, want)
	}
}

func TestDropAfterCuts(t *testing.T) {
	blob := bytes.Repeat([]byte("x"), 100_000)
	p := start(t, blob)
	p.Add(Fault{PathContains: "/blob", DropAfter: 12345})

	resp, body, err := get(t, p.URL()+"/blob", nil)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("read error = %v, want unexpected EOF", err)
	}
	if resp.StatusCode != http.StatusOK || len(body) != 12345 {
		t.Errorf("got %d and %d bytes, want 200 and 12345 bytes", resp.StatusCode, len(body))
	}

	// Used up: the next request goes through whole.
	_, body, err = get(t, p.URL()+"/blob", nil)
	if err != nil || len(body) != len(blob) {
		t.Errorf("second request: %d bytes, %v", len(body), err)
	}
}

func TestStatusAndTimes(t *testing.T) {
	p := start(t, []byte("hello"))
	p.Add(Fault{Method: "POST", Status: 500}) // never matches a GET
	p.Add(Fault{PathContains: "/blob", Status: 429, RetryAfter: "7", Times: 2})

	for i := range 3 {
		resp, body, err := get(t, p.URL()+"/blob", nil)
		if err != nil {
			t.Fatal(err)
		}
		if i < 2 {
			if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "7" || !strings.Contains(string(body), "TOOMANYREQUESTS") {
				t.Errorf("request %d: got %d, Retry-After %q, body %q", i, resp.StatusCode, resp.Header.Get("Retry-After"), body)
			}
		} else if resp.StatusCode != 200 || string(body) != "hello" {
			t.Errorf("request %d: got %d %q, want the fault used up", i, resp.StatusCode, body)
		}
	}
	log := p.Requests()
	if len(log) != 3 || !log[0].Fault || !log[1].Fault || log[2].Fault || log[2].Status != 200 {
		t.Errorf("log = %v", log)
	}
}

func TestHangup(t *testing.T) {
	p := start(t, []byte("hello"))
	p.Add(Fault{Hangup: true})
	if _, _, err := get(t, p.URL()+"/blob", nil); err == nil {
		t.Fatal("got an answer, want the connection closed before one")
	}
	if log := p.Requests(); len(log) != 1 || log[0].Status != 0 {
		t.Errorf("log = %v", log)
	}
}

func TestDelayAndThrottle(t *testing.T) {
	p := start(t, bytes.Repeat([]byte("x"), 10_000))
	p.Add(Fault{Delay: 100 * time.Millisecond})
	p.Add(Fault{BytesPerSecond: 50_000}) // 10 kB in about 200ms

	for _, min := range []time.Duration{100 * time.Millisecond, 150 * time.Millisecond} {
		t0 := time.Now()
		_, body, err := get(t, p.URL()+"/blob", nil)
		if err != nil || len(body) != 10_000 {
			t.Fatalf("%d bytes, %v", len(body), err)
		}
		if d := time.Since(t0); d < min {
			t.Errorf("took %v, want at least %v", d, min)
		}
	}
}

func TestCloseEndsSlowAnswers(t *testing.T) {
	p := New(backend(t, []byte("hello")).URL)
	p.Add(Fault{Delay: time.Hour})
	errc := make(chan error, 1)
	go func() {
		_, _, err := get(t, p.URL()+"/blob", nil)
		errc <- err
	}()
	for len(p.Requests()) == 0 && !p.pendingTaken() {
		time.Sleep(5 * time.Millisecond)
	}
	t0 := time.Now()
	p.Close()
	if d := time.Since(t0); d > 5*time.Second {
		t.Errorf("Close took %v", d)
	}
	if err := <-errc; err == nil {
		t.Error("delayed request succeeded after Close")
	}
}

// pendingTaken reports whether every queued fault has been taken.
func (p *Proxy) pendingTaken() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.faults) == 0
}
