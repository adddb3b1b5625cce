// Package platform parses, prints and matches image platforms
// (os/arch[/variant]) the way Docker and containerd do.
package platform

import (
	"fmt"
	"runtime"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Host is the platform of the machine's images: Linux on its architecture,
// with containerd's default variants (arm64 is v8, arm is v7). On macOS and
// Windows, images are Linux's too, as Docker Desktop runs them in a Linux
// of the same architecture.
func Host() v1.Platform { return hostOf(runtime.GOOS, runtime.GOARCH) }

// hostOf leaves goos aside: gantry makes and picks Linux images only.
func hostOf(goos, goarch string) v1.Platform {
	return Normalize(v1.Platform{OS: "linux", Architecture: goarch})
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
	if p.OS == "" && p.Architecture == "" {
		return "unknown"
	}
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// OfConfig is the platform an image config names; the zero platform when
// it names none (images made by crane append on scratch).
func OfConfig(cf *v1.ConfigFile) v1.Platform {
	if p := cf.Platform(); p != nil {
		return *p
	}
	return v1.Platform{}
}

// Matches reports whether an image for have runs where want is asked for.
func Matches(want, have v1.Platform) bool {
	want, have = Normalize(want), Normalize(have)
	return want.OS == have.OS && want.Architecture == have.Architecture && want.Variant == have.Variant
}

// Rank scores how well an image for have serves want, as containerd's
// matcher orders them: 0 is no match; the best is the same variant, then
// (on arm) older variants the CPU also runs, newest first.
func Rank(want, have v1.Platform) int {
	if have.OS != want.OS || Normalize(have).Architecture != Normalize(want).Architecture {
		return 0
	}
	wv, hv := Normalize(want).Variant, Normalize(have).Variant
	if want.Variant == "" && want.Architecture != "arm" && want.Architecture != "arm64" {
		if hv == "" {
			return 100
		}
		return 50
	}
	if wv == hv {
		return 100
	}
	if Normalize(want).Architecture == "arm" && strings.HasPrefix(wv, "v") && strings.HasPrefix(hv, "v") {
		var w, h int
		fmt.Sscanf(wv, "v%d", &w)
		fmt.Sscanf(hv, "v%d", &h)
		if h > 0 && h < w {
			return 10 + h
		}
	}
	return 0
}

// Pick returns the index of the manifest in ds that best serves want (see
// Rank), or an error listing what there is. Attestation manifests
// (platform unknown/unknown) are never picked.
func Pick(ds []v1.Descriptor, want v1.Platform) (int, error) {
	var have []string
	best, bestRank := -1, 0
	for i, d := range ds {
		if d.Platform == nil || (d.MediaType != "" && !d.MediaType.IsImage()) || d.Platform.OS == "unknown" {
			continue
		}
		have = append(have, String(*d.Platform))
		if r := Rank(want, *d.Platform); r > bestRank {
			best, bestRank = i, r
		}
	}
	switch {
	case best >= 0:
		return best, nil
	case len(have) == 0:
		return -1, fmt.Errorf("no image for %s: the index lists no platforms", String(want))
	}
	return -1, fmt.Errorf("no image for %s: available platforms are %s", String(want), strings.Join(have, ", "))
}
