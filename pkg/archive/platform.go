package archive

import (
	"fmt"
	"runtime"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// hostPlatform is the platform Docker would pull on this machine. containerd
// gives arm and arm64 a variant (v7, v8) even when the CPU is not probed.
func hostPlatform() v1.Platform {
	p := v1.Platform{OS: runtime.GOOS, Architecture: runtime.GOARCH}
	switch runtime.GOARCH {
	case "arm":
		p.Variant = "v7"
	case "arm64":
		p.Variant = "v8"
	}
	return p
}

// normalVariant treats the variants containerd considers equal as equal.
func normalVariant(arch, variant string) string {
	switch {
	case arch == "arm64" && variant == "":
		return "v8"
	case arch == "arm" && variant == "":
		return "v7"
	case arch == "amd64" && variant == "v1":
		return ""
	}
	return variant
}

// platformRank scores how well have serves want: 0 is no match; the best
// is an exact variant, then (on arm) older variants the CPU also runs,
// newest first, as containerd's platform matcher orders them.
func platformRank(want, have v1.Platform) int {
	if have.OS != want.OS || have.Architecture != want.Architecture {
		return 0
	}
	wv := normalVariant(want.Architecture, want.Variant)
	hv := normalVariant(have.Architecture, have.Variant)
	if want.Variant == "" && want.Architecture != "arm" && want.Architecture != "arm64" {
		if hv == "" {
			return 100
		}
		return 50
	}
	if wv == hv {
		return 100
	}
	if want.Architecture == "arm" && strings.HasPrefix(wv, "v") && strings.HasPrefix(hv, "v") {
		var w, h int
		fmt.Sscanf(wv, "v%d", &w)
		fmt.Sscanf(hv, "v%d", &h)
		if h > 0 && h < w {
			return 10 + h
		}
	}
	return 0
}

// choosePlatform picks the image of idx that Docker on want would run.
func choosePlatform(idx v1.ImageIndex, want v1.Platform) (v1.Descriptor, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return v1.Descriptor{}, err
	}
	best, bestRank := -1, 0
	var have []string
	for i, d := range im.Manifests {
		if (d.MediaType != "" && !d.MediaType.IsImage()) || d.Platform == nil {
			continue
		}
		if d.Platform.OS == "unknown" {
			continue // attestations and other non-images
		}
		have = append(have, platformString(*d.Platform))
		if r := platformRank(want, *d.Platform); r > bestRank {
			best, bestRank = i, r
		}
	}
	if best < 0 {
		return v1.Descriptor{}, fmt.Errorf("no image for platform %s in the index (it has %s)", platformString(want), strings.Join(have, ", "))
	}
	return im.Manifests[best], nil
}

func platformString(p v1.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}
