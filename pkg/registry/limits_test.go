package registry

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
)

// A registry that answers a manifest request with an endless or huge body
// must not make gantry hold it in memory: the declared size is refused
// before the body is read, a chunked body is cut at the limit.
func TestManifestOverTheLimitIsRefusedBeforeItIsRead(t *testing.T) {
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/v2/":
			w.WriteHeader(http.StatusOK)
		case strings.Contains(r.URL.Path, "/manifests/declared"):
			w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
			w.Header().Set("Content-Length", strconv.Itoa(64<<20))
			chunk := []byte(strings.Repeat(" ", 32<<10))
			for i := 0; i < (64<<20)/len(chunk); i++ {
				n, err := w.Write(chunk)
				served.Add(int64(n))
				if err != nil {
					return
				}
			}
		case strings.Contains(r.URL.Path, "/manifests/chunked"):
			w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
			chunk := []byte(strings.Repeat(" ", 32<<10))
			for {
				n, err := w.Write(chunk)
				served.Add(int64(n))
				if err != nil || served.Load() > 200<<20 {
					return
				}
				w.(http.Flusher).Flush()
			}
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	var read atomic.Int64
	base := http.DefaultTransport.(*http.Transport).Clone()
	c, err := New(Options{Keychain: authn.NewMultiKeychain(), Retry: RetryPolicy{Attempts: 1},
		Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			resp, err := base.RoundTrip(r)
			if err == nil {
				resp.Body = &countingBody{ReadCloser: resp.Body, n: &read}
			}
			return resp, err
		})})
	if err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(srv.URL, "http://")
	for _, tag := range []string{"declared", "chunked"} {
		served.Store(0)
		read.Store(0)
		ref, err := c.ParseReference(host + "/x/y:" + tag)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		_, err = c.Get(ctx, ref)
		cancel()
		if err == nil || !strings.Contains(err.Error(), "manifest") || !strings.Contains(err.Error(), strconv.Itoa(MaxManifestSize)) {
			t.Errorf("%s: err = %v, want a refusal naming the manifest limit", tag, err)
		}
		if n := read.Load(); n > MaxManifestSize+64<<10 {
			t.Errorf("%s: gantry read %d bytes of the manifest before it stopped", tag, n)
		}
		if tag == "declared" && read.Load() > 64<<10 {
			t.Errorf("declared: gantry read %d bytes of a manifest whose size it was told", read.Load())
		}
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.n.Add(int64(n))
	return n, err
}
