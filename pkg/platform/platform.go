// Package platform parses, prints and matches image platforms
// (os/arch[/variant]) the way Docker and containerd do.
package platform

import (
	"fmt"
	"runtime"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Host is the platform gantry runs on, with containerd's default variants
// (arm64 is v8, arm is v7).
func Host() v1.Platform {
	return Normalize(v1.Platform{OS: runtime.GOOS, Architecture: runtime.GOARCH})
}

// Parse reads os/arch[/variant]. "linux" alone is not accepted: the
// architecture is what people get wrong.
func Parse(s string) (v1.Platform, error) {
	parts := strings.Split(strings.ToLower(strings.TrimSpace(s)), "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return v1.Platform{}, fmt.Errorf("invalid platform %q: use os/arch[/variant], e.g. linux/arm64", s)
	}
	p := v1.Platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	return Normalize(p), nil
}

// Normalize spells architectures as OCI does (x86_64 → amd64, aarch64 →
// arm64) and fills in default variants.
func Normalize(p v1.Platform) v1.Platform {
	switch p.Architecture {
	case "x86_64", "x86-64":
		p.Architecture = "amd64"
	case "aarch64":
		p.Architecture = "arm64"
	case "armhf":
		p.Architecture, p.Variant = "arm", "v7"
	case "armel":
		p.Architecture, p.Variant = "arm", "v6"
	}
	switch {
	case p.Architecture == "arm64" && p.Variant == "":
		p.Variant = "v8"
	case p.Architecture == "arm" && p.Variant == "":
		p.Variant = "v7"
	case p.Architecture == "amd64" && p.Variant == "v1":
		p.Variant = ""
	}
	return p
}

// String prints os/arch[/variant].
func String(p v1.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// Matches reports whether an image for have runs where want is asked for.
func Matches(want, have v1.Platform) bool {
	want, have = Normalize(want), Normalize(have)
	return want.OS == have.OS && want.Architecture == have.Architecture && want.Variant == have.Variant
}

// Pick returns the index of the manifest in ds that matches want, or an error
// listing what there is.
func Pick(ds []v1.Descriptor, want v1.Platform) (int, error) {
	var have []string
	for i, d := range ds {
		if d.Platform == nil || !d.MediaType.IsImage() {
			continue
		}
		if d.Platform.OS == "unknown" {
			continue // BuildKit attestation manifests
		}
		if Matches(want, *d.Platform) {
			return i, nil
		}
		have = append(have, String(*d.Platform))
	}
	if len(have) == 0 {
		return -1, fmt.Errorf("no image for %s: the index lists no platforms", String(want))
	}
	return -1, fmt.Errorf("no image for %s: available platforms are %s", String(want), strings.Join(have, ", "))
}
