package registry_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/gantry-build/gantry/internal/faultproxy"
	"github.com/gantry-build/gantry/pkg/registry"
)

// testRegistry is an in-memory registry holding one random image.
type testRegistry struct {
	url   string
	img   v1.Image
	layer string // the first layer's digest
}

// newTestRegistry starts the registry, wrapped by wrap if not nil, and pushes
// the image to it directly.
func newTestRegistry(t *testing.T, wrap func(http.Handler) http.Handler) *testRegistry {
	t.Helper()
	var h http.Handler = ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	img, err := random.Image(4<<20, 3)
	if err != nil {
		t.Fatal(err)
	}
	direct, err := name.ParseReference(strings.TrimPrefix(srv.URL, "http://") + "/test/img:latest")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(direct, img); err != nil {
		t.Fatalf("push: %v", err)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	digest, err := layers[0].Digest()
	if err != nil {
		t.Fatal(err)
	}
	return &testRegistry{url: srv.URL, img: img, layer: digest.String()}
}

// transportFixture is a test registry behind a fault proxy of its own.
type transportFixture struct {
	proxy *faultproxy.Proxy
	ref   name.Reference // the image, through the proxy
	layer string         // the first layer's digest
	slept *sleepLog
}

func (r *testRegistry) behindProxy(t *testing.T) *transportFixture {
	t.Helper()
	p := faultproxy.New(r.url)
	t.Cleanup(p.Close)
	ref, err := name.ParseReference(p.Host() + "/test/img:latest")
	if err != nil {
		t.Fatal(err)
	}
	return &transportFixture{proxy: p, ref: ref, layer: r.layer, slept: &sleepLog{}}
}

// policy is a fast policy whose sleeps are recorded, not slept.
func (f *transportFixture) policy(attempts int) registry.RetryPolicy {
	return registry.RetryPolicy{Attempts: attempts, Sleep: f.slept.sleep}
}

// pull reads ref through the transport as gantry does: every layer's
// compressed bytes in full (go-containerregistry checks their digests), then
// checkImage.
func pull(ref name.Reference, base http.RoundTripper, p registry.RetryPolicy) error {
	img, err := remote.Image(ref,
		remote.WithTransport(registry.NewTransport(base, p)),
		// Turn off go-containerregistry's own retries, so that what is
		// tested is the transport's.
		remote.WithRetryStatusCodes(),
		remote.WithRetryBackoff(remote.Backoff{Steps: 1}),
		remote.WithRetryPredicate(func(error) bool { return false }),
	)
	if err != nil {
		return err
	}
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	for _, l := range layers {
		rc, err := l.Compressed()
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, rc)
		if cerr := rc.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	return checkImage(img)
}

// checkImage reads every layer again uncompressed and checks it against the
// config's diff IDs. It stands in for validate.Image, whose go-cmp dependency
// is not in go.sum.
func checkImage(img v1.Image) error {
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return err
	}
	if len(cfg.RootFS.DiffIDs) != len(layers) {
		return fmt.Errorf("%d layers, %d diff IDs", len(layers), len(cfg.RootFS.DiffIDs))
	}
	for i, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			return err
		}
		h := sha256.New()
		_, err = io.Copy(h, rc)
		if cerr := rc.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != cfg.RootFS.DiffIDs[i].String() {
			return fmt.Errorf("layer %d: diff ID %s, config says %s", i, got, cfg.RootFS.DiffIDs[i])
		}
	}
	return nil
}

type sleepLog struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleepLog) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.d = append(s.d, d)
	return ctx.Err()
}

func (s *sleepLog) all() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.d...)
}

// requestsTo is the proxy's log of requests whose path contains part.
func requestsTo(p *faultproxy.Proxy, part string) []faultproxy.Request {
	var out []faultproxy.Request
	for _, r := range p.Requests() {
		if strings.Contains(r.Path, part) {
			out = append(out, r)
		}
	}
	return out
}

func TestTransportResumesDroppedBlob(t *testing.T) {
	const drop = 1 << 20
	plain, ignoring := newTestRegistry(t, nil), newTestRegistry(t, stripRange)
	for _, tc := range []struct {
		name       string
		reg        *testRegistry
		wantStatus int // of the resumed request
	}{
		{name: "range honoured", reg: plain, wantStatus: http.StatusPartialContent},
		{name: "range ignored", reg: ignoring, wantStatus: http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.reg.behindProxy(t)
			f.proxy.Add(faultproxy.Fault{Method: "GET", PathContains: f.layer, DropAfter: drop})

			if err := pull(f.ref, http.DefaultTransport, f.policy(0)); err != nil {
				t.Fatalf("pull: %v", err)
			}
			got := requestsTo(f.proxy, f.layer)
			if len(got) < 2 {
				t.Fatalf("requests for the layer: %v, want the dropped one and a resumption", got)
			}
			if got[0].Range != "" || !got[0].Fault {
				t.Errorf("first request %+v, want no Range and the drop", got[0])
			}
			if r := got[1]; !strings.HasPrefix(r.Range, fmt.Sprintf("bytes=%d-", drop)) || r.Status != tc.wantStatus {
				t.Errorf("resumption %+v, want Range bytes=%d- answered %d", r, drop, tc.wantStatus)
			}
			if n := len(f.slept.all()); n != 1 {
				t.Errorf("slept %d times, want once before resuming", n)
			}
		})
	}
}

// stripRange makes a registry that ignores Range and always sends the whole
// blob.
func stripRange(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header.Del("Range")
		h.ServeHTTP(w, r)
	})
}

func TestTransportResumption(t *testing.T) {
	reg := newTestRegistry(t, nil)
	for _, tc := range []struct {
		name    string
		then    []faultproxy.Fault // faults for the requests after the drop
		wantErr string
		want    []int // first statuses the proxy sent for the layer; later reads come after
	}{
		{
			name: "retries a failed resumption",
			then: []faultproxy.Fault{{Status: 503}, {Hangup: true}},
			want: []int{200, 503, 0, 206},
		},
		{
			name:    "refused",
			then:    []faultproxy.Fault{{Status: http.StatusRequestedRangeNotSatisfiable}},
			wantErr: "connection dropped at byte 1048576 and the registry refused to resume: it answered 416 Requested Range Not Satisfiable",
			want:    []int{200, 416},
		},
		{
			name:    "gives up",
			then:    []faultproxy.Fault{{Status: 502, Times: 10}},
			wantErr: "connection dropped at byte 1048576 and 3 tries to resume failed, the last: registry answered 502 Bad Gateway",
			want:    []int{200, 502, 502, 502},
		},
		{
			name: "each resumption makes progress",
			then: []faultproxy.Fault{{DropAfter: 1 << 20}, {DropAfter: 1 << 20}, {DropAfter: 1 << 20}},
			// The layer is a little over 4 MiB: three cuts a MiB apart, then the rest.
			want: []int{200, 206, 206, 206, 206},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := reg.behindProxy(t)
			f.proxy.Add(faultproxy.Fault{Method: "GET", PathContains: f.layer, DropAfter: 1 << 20})
			for _, fault := range tc.then {
				fault.Method, fault.PathContains = "GET", f.layer
				f.proxy.Add(fault)
			}

			err := pull(f.ref, http.DefaultTransport, f.policy(3))
			if err != nil {
				t.Log(err)
			}
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("pull: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("pull error = %v, want one containing %q", err, tc.wantErr)
			}
			var got []int
			for _, r := range requestsTo(f.proxy, f.layer) {
				got = append(got, r.Status)
			}
			ok := len(got) >= len(tc.want) && fmt.Sprint(got[:len(tc.want)]) == fmt.Sprint(tc.want)
			if tc.wantErr != "" {
				ok = ok && len(got) == len(tc.want) // nothing more after giving up
			}
			if !ok {
				t.Errorf("statuses for the layer: %v, want %v", got, tc.want)
			}
		})
	}
}

func TestTransportRetries(t *testing.T) {
	between := func(lo, hi time.Duration) func(time.Duration) bool {
		return func(d time.Duration) bool { return d >= lo && d <= hi }
	}
	reg := newTestRegistry(t, nil)
	for _, tc := range []struct {
		name      string
		faults    []faultproxy.Fault // on manifest requests
		dateIn    time.Duration      // if set, faults[0] gets Retry-After: the HTTP date this far ahead
		noReuse   bool               // base transport without keep-alive
		repo      string             // default "test/img:latest"
		attempts  int
		wantErr   string
		manifests int                        // manifest requests the proxy saw
		sleeps    []func(time.Duration) bool // one check per recorded sleep
	}{
		{
			name:      "500 twice",
			faults:    []faultproxy.Fault{{Status: 500, Times: 2}},
			manifests: 3,
			// 200ms then 400ms, each with up to a quarter more of jitter.
			sleeps: []func(time.Duration) bool{
				between(200*time.Millisecond, 250*time.Millisecond),
				between(400*time.Millisecond, 500*time.Millisecond),
			},
		},
		{
			name:      "429 Retry-After seconds",
			faults:    []faultproxy.Fault{{Status: 429, RetryAfter: "2"}},
			manifests: 2,
			sleeps:    []func(time.Duration) bool{between(2*time.Second, 2*time.Second)},
		},
		{
			name:      "503 Retry-After date",
			faults:    []faultproxy.Fault{{Status: 503}},
			dateIn:    5 * time.Second,
			manifests: 2,
			sleeps:    []func(time.Duration) bool{between(3*time.Second, 5*time.Second)},
		},
		{
			name:   "connection closed before headers",
			faults: []faultproxy.Fault{{Hangup: true}},
			// net/http itself retries an idempotent request once when a
			// reused connection fails; with fresh connections the failure
			// reaches the transport under test.
			noReuse:   true,
			manifests: 2,
			sleeps:    []func(time.Duration) bool{between(200*time.Millisecond, 250*time.Millisecond)},
		},
		{
			name:      "503 always",
			faults:    []faultproxy.Fault{{Status: 503, Times: 100}},
			attempts:  4,
			wantErr:   "GET /v2/test/img/manifests/latest: registry answered 503 Service Unavailable 4 times: UNAVAILABLE: faultproxy: injected 503",
			manifests: 4,
			sleeps:    []func(time.Duration) bool{between(0, time.Second), between(0, time.Second), between(0, 2*time.Second)},
		},
		{
			name:      "Retry-After too long",
			faults:    []faultproxy.Fault{{Status: 429, RetryAfter: "120"}},
			wantErr:   "registry answered 429 Too Many Requests and asked to wait 2m0s before trying again, longer than the 1m0s gantry waits",
			manifests: 1,
		},
		{
			name:      "404 not retried",
			repo:      "test/img:missing",
			wantErr:   "MANIFEST_UNKNOWN",
			manifests: 1,
		},
		{
			name:      "400 not retried",
			faults:    []faultproxy.Fault{{Status: 400}},
			wantErr:   "400",
			manifests: 1,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := reg.behindProxy(t)
			for i, fault := range tc.faults {
				fault.PathContains = "/manifests/"
				if i == 0 && tc.dateIn != 0 {
					fault.RetryAfter = time.Now().Add(tc.dateIn).UTC().Format(http.TimeFormat)
				}
				f.proxy.Add(fault)
			}
			base := http.DefaultTransport
			if tc.noReuse {
				tr := &http.Transport{DisableKeepAlives: true}
				defer tr.CloseIdleConnections()
				base = tr
			}
			ref := f.ref
			if tc.repo != "" {
				var err error
				if ref, err = name.ParseReference(f.proxy.Host() + "/" + tc.repo); err != nil {
					t.Fatal(err)
				}
			}
			var retries []string
			p := f.policy(tc.attempts)
			p.OnRetry = func(req *http.Request, attempt int, reason string) {
				retries = append(retries, fmt.Sprintf("%d %s", attempt, reason))
			}

			err := pull(ref, base, p)
			if err != nil {
				t.Log(err)
			}
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("pull: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("pull error = %v, want one containing %q", err, tc.wantErr)
			}
			if got := requestsTo(f.proxy, "/manifests/"); len(got) != tc.manifests {
				t.Errorf("manifest requests: %v, want %d", got, tc.manifests)
			}
			slept := f.slept.all()
			if len(slept) != len(tc.sleeps) || len(retries) != len(tc.sleeps) {
				t.Fatalf("slept %v and OnRetry saw %q, want %d retries", slept, retries, len(tc.sleeps))
			}
			for i, ok := range tc.sleeps {
				if !ok(slept[i]) {
					t.Errorf("sleep %d was %v", i, slept[i])
				}
				if !strings.HasPrefix(retries[i], fmt.Sprint(i+2)) {
					t.Errorf("OnRetry %d: %q, want attempt %d", i, retries[i], i+2)
				}
			}
		})
	}
}

func TestTransportReplaysOnlyReplayableBodies(t *testing.T) {
	f := newTestRegistry(t, nil).behindProxy(t)
	f.proxy.Add(faultproxy.Fault{Method: "POST", Status: 503, Times: 100})
	rt := registry.NewTransport(nil, f.policy(3))
	url := f.proxy.URL() + "/v2/test/img/blobs/uploads/"

	// A body that can't be read twice: the 503 comes back as it is.
	req, err := http.NewRequest(http.MethodPost, url, io.NopCloser(strings.NewReader("once")))
	if err != nil {
		t.Fatal(err)
	}
	if req.GetBody != nil {
		t.Fatal("test request has GetBody")
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatalf("RoundTrip: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 {
		t.Errorf("status %d, want the 503", resp.StatusCode)
	}
	if got := requestsTo(f.proxy, "/uploads/"); len(got) != 1 {
		t.Errorf("requests %v, want 1", got)
	}

	// With GetBody the same POST is retried.
	req, err = http.NewRequest(http.MethodPost, url, strings.NewReader("again"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rt.RoundTrip(req); err == nil || !strings.Contains(err.Error(), "POST /v2/test/img/blobs/uploads/: registry answered 503 Service Unavailable 3 times") {
		t.Errorf("error = %v", err)
	}
	if got := requestsTo(f.proxy, "/uploads/"); len(got) != 4 {
		t.Errorf("requests %v, want 1+3", got)
	}
}

func TestTransportCancelDuringBackoff(t *testing.T) {
	f := newTestRegistry(t, nil).behindProxy(t)
	f.proxy.Add(faultproxy.Fault{Status: 503, Times: 100})
	rt := registry.NewTransport(nil, registry.RetryPolicy{MinBackoff: time.Hour, MaxBackoff: time.Hour})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.proxy.URL()+"/v2/", nil)
	if err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(100*time.Millisecond, cancel)
	t0 := time.Now()
	_, err = rt.RoundTrip(req)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error = %v, want context.Canceled", err)
	}
	if d := time.Since(t0); d > 5*time.Second {
		t.Errorf("returned after %v", d)
	}
}

func TestTransportCloseDuringResumption(t *testing.T) {
	f := newTestRegistry(t, nil).behindProxy(t)
	f.proxy.Add(faultproxy.Fault{PathContains: f.layer, DropAfter: 1 << 20})
	rt := registry.NewTransport(nil, registry.RetryPolicy{MinBackoff: time.Hour, MaxBackoff: time.Hour})

	req, err := http.NewRequest(http.MethodGet, f.proxy.URL()+"/v2/test/img/blobs/"+f.layer, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, resp.Body)
		done <- err
	}()
	// Let the copy reach the drop and start waiting to resume, then close.
	time.Sleep(200 * time.Millisecond)
	resp.Body.Close()
	select {
	case err := <-done:
		if err == nil {
			t.Error("read the whole body after Close")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Read still blocked 5s after Close")
	}
	if got := requestsTo(f.proxy, f.layer); len(got) != 1 {
		t.Errorf("requests %v, want no resumption after Close", got)
	}
}

func TestTransportConnectionRefused(t *testing.T) {
	// A port that was just listening and is now closed.
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL + "/v2/"
	srv.Close()

	slept := &sleepLog{}
	rt := registry.NewTransport(nil, registry.RetryPolicy{Attempts: 3, Sleep: slept.sleep})
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = rt.RoundTrip(req)
	if err == nil || !strings.HasPrefix(err.Error(), "GET /v2/: connection refused 3 times: ") {
		t.Errorf("error = %v", err)
	}
	if n := len(slept.all()); n != 2 {
		t.Errorf("slept %d times, want 2", n)
	}
}
