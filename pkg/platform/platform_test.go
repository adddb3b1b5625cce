package platform

import (
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

func TestParse(t *testing.T) {
	for in, want := range map[string]string{
		"linux/amd64":                    "linux/amd64",
		"linux/arm64":                    "linux/arm64",
		"linux/aarch64":                  "linux/arm64",
		"linux/arm64/v8":                 "linux/arm64",
		"linux/arm64/8":                  "linux/arm64",
		"linux/arm64/9.0":                "linux/arm64/v9",
		"linux/i386":                     "linux/386",
		"linux/arm/7":                    "linux/arm/v7",
		"windows(1.2.3)/amd64":           "windows(1.2.3)/amd64",
		"windows(10.0.20348.1006)/amd64": "windows(10.0.20348.1006)/amd64",
		"Windows(10.0+win32k)/AMD64":     "windows(10.0+win32k)/amd64",
		"Linux/ARM/v6":                   "linux/arm/v6",
		"linux/arm":                      "linux/arm/v7",
		"windows/amd64":                  "windows/amd64",
		"linux/x86_64":                   "linux/amd64",
		"linux/amd64/v1":                 "linux/amd64",
	} {
		p, err := Parse(in)
		if err != nil {
			t.Fatalf("Parse(%q): %v", in, err)
		}
		if got := String(p); got != want {
			t.Errorf("Parse(%q) = %s, want %s", in, got, want)
		}
	}
	p, err := Parse("windows(10.0.1)/amd64")
	if err != nil || p.OS != "windows" || p.OSVersion != "10.0.1" || p.Architecture != "amd64" {
		t.Errorf("Parse(windows(10.0.1)/amd64) = %+v, %v; want OS windows, OSVersion 10.0.1", p, err)
	}
	for _, bad := range []string{"", "linux", "linux/", "/amd64", "a/b/c/d", "win dows/amd64", "windows(1 2)/amd64", "windows(1.2/amd64", "linux/am d64"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) succeeded", bad)
		}
	}
}

func TestPick(t *testing.T) {
	ds := []v1.Descriptor{
		{MediaType: types.OCIManifestSchema1, Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}},
		{MediaType: types.OCIManifestSchema1, Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}},
		{MediaType: types.OCIManifestSchema1, Platform: &v1.Platform{OS: "unknown", Architecture: "unknown"}},
	}
	i, err := Pick(ds, v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"})
	if err != nil || i != 1 {
		t.Fatalf("Pick arm64 = %d, %v", i, err)
	}
	// An index that says arm64/v8 serves arm64 (containerd's normal form).
	v8 := []v1.Descriptor{{MediaType: types.OCIManifestSchema1, Platform: &v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}}}
	if i, err := Pick(v8, v1.Platform{OS: "linux", Architecture: "arm64"}); err != nil || i != 0 {
		t.Fatalf("Pick arm64 from arm64/v8 = %d, %v", i, err)
	}
	_, err = Pick(ds, v1.Platform{OS: "linux", Architecture: "s390x"})
	if err == nil || !strings.Contains(err.Error(), "linux/amd64, linux/arm64") {
		t.Fatalf("Pick s390x error = %v", err)
	}
}

// --platform is outside input: parsed or refused, never a crash, and what
// parses prints back into something that parses to the same platform.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{"linux/amd64", "linux/arm64/v8", "linux/arm/v7", "windows/amd64", "linux", "/", "a/b/c/d", "Linux/AMD64", "linux/arm64,linux/amd64"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := Parse(s)
		if err != nil {
			return
		}
		again, err := Parse(String(p))
		if err != nil || again.OS != p.OS || again.Architecture != p.Architecture || again.Variant != p.Variant {
			t.Fatalf("%q → %+v → %q → %+v, %v", s, p, String(p), again, err)
		}
	})
}

// Images are Linux's: on macOS and Windows the platform gantry pulls and
// builds by default is Linux on the same architecture, as Docker Desktop's
// is; asking a registry for darwin/arm64 finds nothing.
func TestHostIsLinuxOnEverySystem(t *testing.T) {
	for _, c := range []struct{ goos, goarch, want string }{
		{"linux", "amd64", "linux/amd64"},
		{"linux", "arm64", "linux/arm64"},  // containerd's normal form: no v8
		{"darwin", "arm64", "linux/arm64"}, // containerd's normal form: no v8
		{"darwin", "amd64", "linux/amd64"},
		{"windows", "amd64", "linux/amd64"},
		{"windows", "arm64", "linux/arm64"}, // containerd's normal form: no v8
	} {
		if got := String(hostOf(c.goos, c.goarch)); got != c.want {
			t.Errorf("on %s/%s: %s, want %s", c.goos, c.goarch, got, c.want)
		}
	}
}
