//go:build linux

package sandbox

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/gantry-build/gantry/pkg/platform"
)

// binfmtDir is where the kernel lists its binfmt_misc handlers.
var binfmtDir = "/proc/sys/fs/binfmt_misc"

// CanExec tells whether commands of platform p run on this host: natively,
// or through an emulator the kernel runs for that platform's executables
// (binfmt_misc, as qemu-user-static or tonistiigi/binfmt register it). how
// names the emulator ("" when native); err says what to install when
// neither.
func CanExec(p v1.Platform) (how string, err error) {
	host := platform.Host()
	p = platform.Normalize(p)
	if p.OS == host.OS && p.Architecture == host.Architecture {
		return "", nil
	}
	cannot := fmt.Sprintf("cannot RUN for %s on this %s host", platform.String(p), platform.String(host))
	if p.OS != "linux" || host.OS != "linux" {
		return "", fmt.Errorf("%s", cannot)
	}
	elf, ok := elfHeader(p.Architecture)
	if !ok {
		return "", fmt.Errorf("%s: gantry knows no executable format for %s", cannot, p.Architecture)
	}
	name, fixed, found := binfmtHandler(elf)
	switch {
	case !found:
		return "", fmt.Errorf("%s: no emulator is registered for it (install qemu-user-static, or run docker run --privileged --rm tonistiigi/binfmt --install %s); COPY-only builds for other platforms work without one", cannot, p.Architecture)
	case !fixed:
		// Without F the kernel looks the interpreter up inside the image's
		// root filesystem when the command starts, and finds nothing.
		return "", fmt.Errorf("%s: binfmt_misc handler %s is registered without the F (fix binary) flag, so it cannot start inside the build's root filesystem; register it again with F (tonistiigi/binfmt does)", cannot, name)
	}
	return name, nil
}

// elfHeader is the start of an executable for arch, up to its e_machine
// field: what binfmt_misc magic strings match.
func elfHeader(arch string) ([]byte, bool) {
	type format struct {
		class, data byte // ELFCLASS32/64, ELFDATA2LSB/MSB
		machine     uint16
	}
	f, ok := map[string]format{
		"amd64":    {2, 1, 62},
		"386":      {1, 1, 3},
		"arm64":    {2, 1, 183},
		"arm":      {1, 1, 40},
		"ppc64le":  {2, 1, 21},
		"ppc64":    {2, 2, 21},
		"s390x":    {2, 2, 22},
		"riscv64":  {2, 1, 243},
		"mips64le": {2, 1, 8},
		"mips64":   {2, 2, 8},
		"mipsle":   {1, 1, 8},
		"mips":     {1, 2, 8},
		"loong64":  {2, 1, 258},
	}[arch]
	if !ok {
		return nil, false
	}
	h := []byte{0x7f, 'E', 'L', 'F', f.class, f.data, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	if f.data == 1 { // e_type ET_EXEC, then e_machine, little endian
		h = append(h, 2, 0, byte(f.machine), byte(f.machine>>8))
	} else {
		h = append(h, 0, 2, byte(f.machine>>8), byte(f.machine))
	}
	return h, true
}

// binfmtHandler finds an enabled binfmt_misc handler whose magic matches
// the executable header elf, and whether it has the F flag.
func binfmtHandler(elf []byte) (name string, fixed, found bool) {
	entries, err := os.ReadDir(binfmtDir)
	if err != nil {
		return "", false, false
	}
	for _, e := range entries {
		if e.Name() == "register" || e.Name() == "status" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(binfmtDir, e.Name()))
		if err != nil {
			continue
		}
		h, ok := parseHandler(string(b))
		if ok && h.matches(elf) {
			return e.Name(), strings.Contains(h.flags, "F"), true
		}
	}
	return "", false, false
}

type handler struct {
	offset      int
	magic, mask []byte
	flags       string
}

// parseHandler reads a file of binfmt_misc: "enabled", "interpreter …",
// "flags: POF", "offset 0", "magic 7f45…", "mask ff…". Extension handlers
// and disabled ones do not count.
func parseHandler(s string) (handler, bool) {
	var h handler
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) == 0 || strings.TrimSpace(lines[0]) != "enabled" {
		return h, false
	}
	for _, l := range lines[1:] {
		k, v, _ := strings.Cut(strings.TrimSpace(l), " ")
		v = strings.TrimSpace(v)
		switch k {
		case "flags:":
			h.flags = v
		case "offset":
			h.offset, _ = strconv.Atoi(v)
		case "magic":
			h.magic, _ = hex.DecodeString(v)
		case "mask":
			h.mask, _ = hex.DecodeString(v)
		}
	}
	return h, len(h.magic) > 0
}

func (h handler) matches(file []byte) bool {
	if h.offset < 0 || h.offset+len(h.magic) > len(file) {
		return false
	}
	got := bytes.Clone(file[h.offset : h.offset+len(h.magic)])
	want := bytes.Clone(h.magic)
	if len(h.mask) == len(h.magic) {
		for i := range got {
			got[i] &= h.mask[i]
			want[i] &= h.mask[i]
		}
	}
	return bytes.Equal(got, want)
}
