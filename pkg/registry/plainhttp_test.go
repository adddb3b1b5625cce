package registry

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// A registry that speaks plain HTTP, reached over HTTPS: the error says to
// use --insecure or insecure-registries, not Go's "server gave HTTP
// response to HTTPS client" alone.
func TestPlainHTTPRegistryOverHTTPS(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	// Every host is this server: plain.example is not a loopback name, so
	// gantry speaks HTTPS to it.
	base := &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}}
	c, err := New(Options{Transport: base, Retry: RetryPolicy{Attempts: 1}})
	if err != nil {
		t.Fatal(err)
	}
	ref, err := c.ParseReference("plain.example:5000/team/app:1")
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Get(context.Background(), ref)
	if err == nil {
		t.Fatal("a plain-HTTP registry answered over HTTPS")
	}
	for _, want := range []string{"plain.example:5000", "plain HTTP", "--insecure", `"insecure-registries"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	err = c.Login(context.Background(), "plain.example:5000", "u", "p")
	if err == nil || !strings.Contains(err.Error(), "--insecure") {
		t.Errorf("login: %v", err)
	}
}
