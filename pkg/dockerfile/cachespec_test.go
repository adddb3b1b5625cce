package dockerfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// --cache-from and --cache-to take buildx's registry and local spellings;
// any other type or attribute is refused, never ignored (type=local and
// type=gha were silently ignored before).
func TestParseCacheSpec(t *testing.T) {
	for in, want := range map[string]CacheSpec{
		"r.io/cache":                        {Type: "registry", Ref: "r.io/cache", Mode: "max"},
		"type=registry,ref=r.io/cache":      {Type: "registry", Ref: "r.io/cache", Mode: "max"},
		"type=registry,ref=r.io/c,mode=min": {Type: "registry", Ref: "r.io/c", Mode: "min"},
		"type=local,dest=/tmp/cache":        {Type: "local", Dir: "/tmp/cache", Mode: "max"},
	} {
		got, err := ParseCacheSpec(in, true)
		if err != nil || got != want {
			t.Errorf("--cache-to %s = %+v, %v; want %+v", in, got, err, want)
		}
	}
	if got, err := ParseCacheSpec("type=local,src=/tmp/cache", false); err != nil || got.Dir != "/tmp/cache" {
		t.Errorf("--cache-from type=local: %+v %v", got, err)
	}
	for _, bad := range []string{"type=gha", "type=s3,bucket=x", "type=registry", "type=local", "type=registry,ref=r,foo=1",
		"type=local,src=/x", "type=registry,ref=r,mode=all", "type=registry,ref=r,ignore-error=true"} {
		if _, err := ParseCacheSpec(bad, true); err == nil || !strings.Contains(err.Error(), "--cache-to") {
			t.Errorf("--cache-to %s: %v, want a refusal", bad, err)
		}
	}
	if _, err := ParseCacheSpec("type=local,dest=/x", false); err == nil {
		t.Error("--cache-from with dest= accepted")
	}
}

// --cache-to type=inline writes the cache into the image's config (mode=min
// only, as buildx has it); --cache-from REF:TAG or @DIGEST names an image
// whose config carries it, a REF without either a repository of step tags.
func TestParseInlineCacheSpec(t *testing.T) {
	for _, in := range []string{"type=inline", "type=inline,mode=min"} {
		got, err := ParseCacheSpec(in, true)
		if err != nil || got != (CacheSpec{Type: "inline", Mode: "min"}) {
			t.Errorf("--cache-to %s = %+v, %v", in, got, err)
		}
	}
	for bad, says := range map[string]string{
		"type=inline,mode=max":            "mode=max",
		"type=inline,ref=r.io/app":        "type=inline takes no",
		"type=registry,ref=r.io/app:v1":   "a repository",
		"r.io/app@sha256:" + sixtyFourA(): "a repository",
	} {
		if _, err := ParseCacheSpec(bad, true); err == nil || !strings.Contains(err.Error(), says) {
			t.Errorf("--cache-to %s: %v, want a refusal saying %q", bad, err, says)
		}
	}
	if _, err := ParseCacheSpec("type=inline", false); err == nil || !strings.Contains(err.Error(), "--cache-from REF") {
		t.Errorf("--cache-from type=inline: %v, want the advice to name the image", err)
	}
	for in, image := range map[string]bool{
		"r.io/app:1":                         true,
		"type=registry,ref=r.io/app:1":       true,
		"localhost:5000/team/app:v2":         true,
		"r.io/app@sha256:" + sixtyFourA():    true,
		"localhost:5000/team/app":            false,
		"type=registry,ref=localhost:5000/a": false,
	} {
		c, err := ParseCacheSpec(in, false)
		if err != nil || c.Type != "registry" || c.isImage() != image {
			t.Errorf("--cache-from %s = %+v (image %v), %v; want an image: %v", in, c, c.isImage(), err, image)
		}
	}
}

func sixtyFourA() string { return strings.Repeat("a", 64) }

// docker build's warning: a --build-arg no ARG declares was not consumed
// (predefined and proxy args aside).
func TestUnusedBuildArgs(t *testing.T) {
	dir := t.TempDir()
	df := "ARG GLOBAL\nFROM scratch\nARG USED\n"
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644)
	stages, meta, _, err := parseDockerfile(filepath.Join(dir, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	got := unusedBuildArgs(stages, meta, map[string]string{"GLOBAL": "1", "USED": "1", "TYPO": "1", "HTTP_PROXY": "x", "TARGETARCH": "arm64", "BUILDKIT_SANDBOX_HOSTNAME": "h", "ALSO": ""})
	if strings.Join(got, ",") != "ALSO,TYPO" {
		t.Errorf("unused = %v, want ALSO, TYPO", got)
	}
}

// --cache-from and --cache-to are outside input: parsing never panics, and
// what it accepts is a type gantry has, with what that type needs.
func FuzzParseCacheSpec(f *testing.F) {
	for _, s := range []string{"r.io/c", "type=registry,ref=r.io/c,mode=min", "type=local,dest=/x", "type=local,src=/x", "type=inline", "type=inline,mode=max", `"type=inline",ref=`, "r.io/app:1"} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, s string, to bool) {
		c, err := ParseCacheSpec(s, to)
		if err != nil || s == "" {
			return
		}
		switch {
		case c.Type == "registry" && c.Ref != "" && (!to || !c.isImage()):
		case c.Type == "local" && c.Dir != "":
		case c.Type == "inline" && to && c.Mode == "min":
		default:
			t.Fatalf("%q (to %v) accepted as %+v", s, to, c)
		}
	})
}
