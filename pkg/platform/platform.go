// Package platform parses, prints and matches image platforms
// (os[(version)]/arch[/variant]) the way Docker and containerd do.
package platform

import (
	"fmt"
	"net/url"
	"regexp"
	"runtime"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Host is the platform of the machine's images: Linux on its architecture,
// in containerd's normal form (arm64 has no variant, arm is v7). On macOS and
// Windows, images are Linux's too, as Docker Desktop runs them in a Linux
// of the same architecture.
func Host() v1.Platform { return hostOf(runtime.GOOS, runtime.GOARCH) }

// hostOf leaves goos aside: gantry makes and picks Linux images only.
func hostOf(goos, goarch string) v1.Platform {
	return Normalize(v1.Platform{OS: "linux", Architecture: goarch})
}

var (
	osPart    = regexp.MustCompile(`^([A-Za-z0-9_-]+)(?:\(([A-Za-z0-9_.%-]*)((?:\+[A-Za-z0-9_.%-]+)*)\))?$`)
	otherPart = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)
)

// Parse reads os[(osversion[+feature…])]/arch[/variant] as containerd's
// platforms.Parse then Normalize do (BuildKit's reading of --platform).
// "linux" alone is not accepted: the architecture is what people get wrong.
func Parse(s string) (v1.Platform, error) {
	bad := func(why string) (v1.Platform, error) {
		return v1.Platform{}, fmt.Errorf("invalid platform %q: %s; use os/arch[/variant], e.g. linux/arm64, or os(version)/arch", s, why)
	}
	parts := strings.Split(strings.TrimSpace(s), "/")
	if len(parts) < 2 || len(parts) > 3 {
		return bad("not two or three parts")
	}
	m := osPart.FindStringSubmatch(parts[0])
	if m == nil {
		return bad("the OS part is not os or os(version)")
	}
	version, err := url.PathUnescape(m[2])
	if err != nil {
		return bad("the OS version does not decode")
	}
	p := v1.Platform{OS: m[1], OSVersion: version, Architecture: parts[1]}
	if m[3] != "" {
		p.OSFeatures = strings.Split(m[3][1:], "+")
	}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	for _, x := range parts[1:] {
		if !otherPart.MatchString(x) {
			return bad(fmt.Sprintf("%q is no architecture or variant", x))
		}
	}
	return Normalize(p), nil
}

// Normalize spells a platform as containerd's platforms.Normalize does:
// lower case, OCI's architecture names (x86_64 → amd64, aarch64 → arm64,
// i386 → 386), arm64 without its default variant v8, arm with v7 by
// default, variants with their "v".
func Normalize(p v1.Platform) v1.Platform {
	p.OS = strings.ToLower(p.OS)
	if p.OS == "macos" {
		p.OS = "darwin"
	}
	arch, variant := strings.ToLower(p.Architecture), strings.ToLower(p.Variant)
	switch arch {
	case "i386":
		arch, variant = "386", ""
	case "x86_64", "x86-64", "amd64":
		arch = "amd64"
		if variant == "v1" {
			variant = ""
		}
	case "aarch64", "arm64":
		arch = "arm64"
		switch variant {
		case "8", "v8", "v8.0":
			variant = ""
		case "9", "9.0", "v9.0":
			variant = "v9"
		}
	case "armhf":
		arch, variant = "arm", "v7"
	case "armel":
		arch, variant = "arm", "v6"
	case "arm":
		switch variant {
		case "", "7":
			variant = "v7"
		case "5", "6", "8":
			variant = "v" + variant
		}
	}
	p.Architecture, p.Variant = arch, variant
	return p
}

// String prints os[(osversion[+feature…])]/arch[/variant], as containerd's
// FormatAll (BuildKit's TARGETPLATFORM).
func String(p v1.Platform) string {
	if p.OS == "" && p.Architecture == "" {
		return "unknown"
	}
	s := p.OS
	if p.OSVersion != "" || len(p.OSFeatures) > 0 {
		s += "(" + osVersionEscaper.Replace(p.OSVersion)
		for _, f := range p.OSFeatures {
			s += "+" + osVersionEscaper.Replace(f)
		}
		s += ")"
	}
	s += "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// osVersionEscaper escapes what would end the OS part, as containerd does.
var osVersionEscaper = strings.NewReplacer("%", "%25", "+", "%2B", "(", "%28", ")", "%29", "/", "%2F")

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
