package reference

import (
	"testing"
)

func TestParseDockerRules(t *testing.T) {
	tests := []struct {
		in, canonical, familiar string
	}{
		{"nginx", "docker.io/library/nginx:latest", "nginx:latest"},
		{"nginx:1.25", "docker.io/library/nginx:1.25", "nginx:1.25"},
		{"docker.io/nginx", "docker.io/library/nginx:latest", "nginx:latest"},
		{"index.docker.io/library/nginx:1", "docker.io/library/nginx:1", "nginx:1"},
		{"user/app", "docker.io/user/app:latest", "user/app:latest"},
		{"localhost:5000/app", "localhost:5000/app:latest", "localhost:5000/app:latest"},
		{"127.0.0.1:5000/ns/name:tag", "127.0.0.1:5000/ns/name:tag", "127.0.0.1:5000/ns/name:tag"},
		{"ghcr.io/a/b/c:v1", "ghcr.io/a/b/c:v1", "ghcr.io/a/b/c:v1"},
		{
			"reg:5000/ns/name:tag@sha256:" + hex64,
			"reg:5000/ns/name@sha256:" + hex64,
			"reg:5000/ns/name@sha256:" + hex64,
		},
		{"busybox@sha256:" + hex64, "docker.io/library/busybox@sha256:" + hex64, "busybox@sha256:" + hex64},
	}
	for _, tt := range tests {
		ref, err := Parse(tt.in)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tt.in, err)
		}
		if got := Canonical(ref); got != tt.canonical {
			t.Errorf("Canonical(%q) = %q, want %q", tt.in, got, tt.canonical)
		}
		if got := Familiar(ref); got != tt.familiar {
			t.Errorf("Familiar(%q) = %q, want %q", tt.in, got, tt.familiar)
		}
	}
}

const hex64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestParseRejects(t *testing.T) {
	for _, in := range []string{"", "UPPER/case", "a:b:c", "name@sha256:short", "-bad", "a//b"} {
		if _, err := Parse(in); err == nil {
			t.Errorf("Parse(%q) succeeded, want error", in)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"nginx", "a/b:c", "localhost:5000/x@sha256:" + hex64} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ref, err := Parse(s)
		if err != nil {
			return
		}
		// Whatever parses must print a canonical form that parses to itself.
		again, err := Parse(Canonical(ref))
		if err != nil {
			t.Fatalf("canonical %q of %q does not parse: %v", Canonical(ref), s, err)
		}
		if Canonical(again) != Canonical(ref) {
			t.Fatalf("canonical not stable: %q vs %q", Canonical(again), Canonical(ref))
		}
	})
}
