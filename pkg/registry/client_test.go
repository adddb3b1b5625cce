package registry

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.json")
	if c, err := LoadConfig(path); err != nil || len(c.Mirrors) != 0 {
		t.Fatalf("missing file: %+v, %v", c, err)
	}
	os.WriteFile(path, []byte(`{"registry-mirrors":["https://m.example.com","http://127.0.0.1:5001"],"insecure-registries":["reg.internal:5000","10.0.0.0/8"]}`), 0o644)
	c, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]bool{
		"reg.internal:5000": true, "reg.internal:5001": false, "10.1.2.3:443": true, "10.1.2.3": true,
		"localhost:5000": true, "127.0.0.1:5000": true, "127.8.9.10": true, "[::1]:5000": true,
		"registry.example.com": false, "192.168.1.1:5000": false,
	} {
		if got := c.isInsecure(host); got != want {
			t.Errorf("isInsecure(%q) = %v, want %v", host, got, want)
		}
	}
	os.WriteFile(path, []byte(`{"registry-mirrors":["https://m.example.com/some/path"]}`), 0o644)
	if _, err := LoadConfig(path); err == nil || !strings.Contains(err.Error(), "without a path") {
		t.Errorf("mirror with a path: %v", err)
	}
	os.WriteFile(path, []byte(`{not json`), 0o644)
	if _, err := LoadConfig(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("bad JSON: %v", err)
	}
}

func TestMirrorRefsOnlyForDockerHub(t *testing.T) {
	c, err := New(Options{Config: Config{Mirrors: []string{"https://m.example.com", "http://127.0.0.1:5001"}}})
	if err != nil {
		t.Fatal(err)
	}
	hub, _ := c.ParseReference("busybox")
	got := c.mirrorRefs(hub)
	if len(got) != 2 || got[0].String() != "m.example.com/library/busybox:latest" || got[1].Context().Scheme() != "http" {
		t.Fatalf("mirrorRefs(busybox) = %v", got)
	}
	pinned, _ := c.ParseReference("user/app@sha256:" + strings.Repeat("a", 64))
	if got := c.mirrorRefs(pinned); len(got) != 2 || !strings.HasSuffix(got[0].String(), "user/app@sha256:"+strings.Repeat("a", 64)) {
		t.Fatalf("mirrorRefs(digest) = %v", got)
	}
	other, _ := c.ParseReference("quay.io/x/y:1")
	if got := c.mirrorRefs(other); len(got) != 0 {
		t.Errorf("mirrors used for quay.io: %v", got)
	}
}

func TestExplain(t *testing.T) {
	ref := name.MustParseReference("registry.example.com/team/app:1")
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&transport.Error{StatusCode: http.StatusUnauthorized}, "authentication required: run gantry login registry.example.com"},
		{&transport.Error{StatusCode: http.StatusNotFound}, "not found: registry.example.com/team/app:1"},
		{&transport.Error{StatusCode: http.StatusOK, Errors: []transport.Diagnostic{{Code: transport.ManifestUnknownErrorCode}}}, "not found: registry.example.com/team/app:1"},
		{&transport.Error{StatusCode: http.StatusForbidden}, "access denied to registry.example.com/team/app:1"},
		{errors.New("dial tcp: connection refused\nmore"), "registry.example.com/team/app:1: dial tcp: connection refused"},
	} {
		got := Explain(tc.err, ref).Error()
		if !strings.Contains(got, tc.want) || strings.Contains(got, "\n") {
			t.Errorf("Explain(%v) = %q, want it to contain %q on one line", tc.err, got, tc.want)
		}
	}
}
