//go:build linux || darwin

package rootfs

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// hostileLayer is one tar of a layer made to reach outside the root it is
// applied to.
type hostileLayer []tar.Header

func (h hostileLayer) bytes(tb testing.TB) []byte {
	tb.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, hdr := range h {
		hdr := hdr
		if hdr.Mode == 0 {
			hdr.Mode = 0o644
		}
		hdr.ModTime = time.Unix(1000, 0)
		body := []byte(nil)
		if hdr.Typeflag == tar.TypeReg && hdr.Size == 0 {
			body = []byte("pwned\n")
			hdr.Size = int64(len(body))
		}
		if err := tw.WriteHeader(&hdr); err != nil {
			tb.Fatal(err)
		}
		tw.Write(body)
	}
	// A header promising more than it carries ends the tar early; the
	// writer reports that on Close, which is the point of such a seed.
	tw.Close()
	return buf.Bytes()
}

// escapeCanary is a path outside any test directory that a layer naming it
// absolutely, or through links, might reach.
const escapeCanary = "/gantry-fuzz-escape"

// hostileLayers are the seeds of FuzzApply: each tries one way out.
func hostileLayers() map[string]hostileLayer {
	reg := func(name string) tar.Header { return tar.Header{Name: name, Typeflag: tar.TypeReg} }
	dir := func(name string) tar.Header { return tar.Header{Name: name, Typeflag: tar.TypeDir, Mode: 0o755} }
	sym := func(name, to string) tar.Header {
		return tar.Header{Name: name, Typeflag: tar.TypeSymlink, Linkname: to}
	}
	hard := func(name, to string) tar.Header { return tar.Header{Name: name, Typeflag: tar.TypeLink, Linkname: to} }
	return map[string]hostileLayer{
		"dotdot name":           {reg("../outside"), reg("a/../../outside")},
		"absolute name":         {reg("/../outside"), reg(escapeCanary + "/x"), reg("/etc/../../outside")},
		"write through symlink": {sym("up", ".."), reg("up/outside"), sym("abs", "/"), reg("abs" + escapeCanary)},
		"symlink chain":         {sym("a", "b"), sym("b", "../.."), dir("a/c"), reg("a/c/outside")},
		"dir then symlink":      {dir("d"), reg("d/f"), sym("d", ".."), reg("d/outside")},
		"hard link out":         {hard("h", "../outside"), hard("h2", "/../outside"), sym("s", ".."), hard("h3", "s/outside")},
		"whiteout of dotdot":    {reg(".wh..."), reg("a/.wh..."), reg("a/b/.wh.."), reg(".wh.."), reg("a/.wh..wh..opq")},
		"whiteout through link": {sym("w", ".."), reg("w/.wh.outside"), reg("w/.wh..wh..opq")},
		"devices": {
			{Name: "null", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3, Mode: 0o666},
			{Name: "sda", Typeflag: tar.TypeBlock, Devmajor: 8, Devminor: 0, Mode: 0o660},
			{Name: "fifo", Typeflag: tar.TypeFifo, Mode: 0o600},
			sym("dev", ".."), {Name: "dev/outside", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3},
		},
		"huge size":            {{Name: "big", Typeflag: tar.TypeReg, Size: 1 << 40}},
		"duplicates":           {reg("x"), reg("x"), dir("x"), reg("x/y"), reg("x"), sym("x", ".."), reg("x/outside")},
		"dir replaced by file": {dir("p"), reg("p/q"), reg("p"), dir("p"), sym("p/q", "../.."), reg("p/q/outside")},
		"setuid and xattrs": {{Name: "suid", Typeflag: tar.TypeReg, Mode: 0o4755, Uid: 1000, Gid: 1000,
			PAXRecords: map[string]string{"SCHILY.xattr.user.x": "y", "SCHILY.xattr.security.capability": "z"}}},
	}
}

// FuzzApply applies arbitrary tars to tmp/root and checks that nothing
// outside root changed: tmp holds root and the untouched file "outside"
// only, "outside" gained no hard link, and the canary at the filesystem's
// root was not made; and no file grew beyond what the tar carried. Errors
// are fine; panics, escapes and amplification are not.
//
// Each input makes and removes a directory, so minimizing an interesting
// input takes long: run it as
//
//	go test -run '^$' -fuzz=FuzzApply -fuzztime=60s -fuzzminimizetime=100x ./pkg/rootfs/
func FuzzApply(f *testing.F) {
	for _, l := range hostileLayers() {
		f.Add(l.bytes(f))
	}
	f.Add(paxSparseTar(1 << 40))
	f.Add(everyKindLayer(f))
	f.Fuzz(func(t *testing.T, data []byte) {
		tmp := t.TempDir()
		root := filepath.Join(tmp, "root")
		outside := filepath.Join(tmp, "outside")
		if err := os.Mkdir(root, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(outside, []byte("keep"), 0o644); err != nil {
			t.Fatal(err)
		}
		_ = Apply(root, bytes.NewReader(data))
		checkConfined(t, tmp, outside)
		checkNoAmplification(t, root, len(data))
	})
}

func checkConfined(t *testing.T, tmp, outside string) {
	t.Helper()
	entries, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatalf("the folder around the root: %v", err)
	}
	if len(entries) != 2 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Fatalf("the folder around the root holds %v, want only root and outside", names)
	}
	fi, err := os.Lstat(outside)
	if err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("outside was replaced: %v, %v", fi, err)
	}
	if n := fi.Sys().(*syscall.Stat_t).Nlink; n != 1 {
		t.Fatalf("outside has %d links: a hard link inside the root reaches it", n)
	}
	if b, _ := os.ReadFile(outside); string(b) != "keep" {
		t.Fatalf("outside was written: %q", b)
	}
	if fi, err := os.Lstat(filepath.Join(tmp, "root")); err != nil || !fi.IsDir() {
		t.Fatalf("the root is no longer a directory: %v, %v", fi, err)
	}
	if _, err := os.Lstat(escapeCanary); err == nil {
		os.RemoveAll(escapeCanary)
		t.Fatalf("%s was created outside the root", escapeCanary)
	}
}

// checkNoAmplification: a plain tar carries every byte it writes, so the
// files under root (each inode once) hold no more than the tar's length.
func checkNoAmplification(t *testing.T, root string, n int) {
	t.Helper()
	var total int64
	seen := map[uint64]bool{}
	filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil || !fi.Mode().IsRegular() {
			return nil
		}
		if ino := fi.Sys().(*syscall.Stat_t).Ino; !seen[ino] {
			seen[ino] = true
			total += fi.Size()
		}
		return nil
	})
	if total > int64(n) {
		t.Fatalf("a %d-byte tar wrote %d bytes of files", n, total)
	}
}

// paxSparseTar is a GNU sparse 1.0 entry (PAX) of realsize bytes whose
// only data is its last byte: archive/tar reads the holes back as zeros.
// Go's tar writer makes no sparse entries, so the bytes are laid out here.
func paxSparseTar(realsize int64) []byte {
	record := func(k, v string) string {
		s := " " + k + "=" + v + "\n"
		n := len(s) + 1
		for len(fmt.Sprint(n))+len(s) != n {
			n = len(fmt.Sprint(n)) + len(s)
		}
		return fmt.Sprint(n) + s
	}
	pad := func(b []byte) []byte { return append(b, make([]byte, (512-len(b)%512)%512)...) }
	header := func(name string, size int, typ byte) []byte {
		h := make([]byte, 512)
		copy(h, name)
		copy(h[100:], "0000644\x00")
		copy(h[108:], "0000000\x00")
		copy(h[116:], "0000000\x00")
		copy(h[124:], fmt.Sprintf("%011o\x00", size))
		copy(h[136:], "00000000000\x00")
		h[156] = typ
		copy(h[257:], "ustar\x0000")
		copy(h[148:], "        ")
		sum := 0
		for _, c := range h {
			sum += int(c)
		}
		copy(h[148:], fmt.Sprintf("%06o\x00 ", sum))
		return h
	}
	pax := record("GNU.sparse.major", "1") + record("GNU.sparse.minor", "0") +
		record("GNU.sparse.name", "big") + record("GNU.sparse.realsize", fmt.Sprint(realsize))
	body := pad([]byte(fmt.Sprintf("1\n%d\n1\n", realsize-1)))
	body = append(body, pad([]byte("x"))...)
	var out []byte
	out = append(out, header("PaxHeaders/big", len(pax), tar.TypeXHeader)...)
	out = append(out, pad([]byte(pax))...)
	out = append(out, header("GNUSparseFile.0/big", len(body), tar.TypeReg)...)
	out = append(out, body...)
	return append(out, make([]byte, 1024)...)
}

// A sparse entry is refused rather than written out hole by hole.
func TestSparseEntryIsRefused(t *testing.T) {
	hdr, err := tar.NewReader(bytes.NewReader(paxSparseTar(1 << 40))).Next()
	if err != nil || hdr.Name != "big" || hdr.Size != 1<<40 {
		t.Fatalf("test setup: the sparse tar reads as %+v, %v", hdr, err)
	}
	root := t.TempDir()
	err = Apply(root, bytes.NewReader(paxSparseTar(1<<40)))
	if err == nil || !strings.Contains(err.Error(), "sparse") {
		t.Errorf("Apply of a 1 TiB sparse entry: %v", err)
	}
	checkNoAmplification(t, root, 4096)
}

// The seeds, each applied on its own, as a plain test.
func TestHostileLayersStayInside(t *testing.T) {
	for name, l := range hostileLayers() {
		t.Run(name, func(t *testing.T) {
			tmp := t.TempDir()
			root := filepath.Join(tmp, "root")
			outside := filepath.Join(tmp, "outside")
			os.Mkdir(root, 0o755)
			os.WriteFile(outside, []byte("keep"), 0o644)
			_ = Apply(root, bytes.NewReader(l.bytes(t)))
			checkConfined(t, tmp, outside)
		})
	}
}

// everyKindLayer is a well-formed layer with one entry of every kind the
// codec writes (the fuzzer's start for mutations that stay near valid).
func everyKindLayer(tb testing.TB) []byte {
	when := time.Unix(1700000000, 123)
	entries := []Meta{
		{Name: "d", Mode: fs.ModeDir | 0o2755, UID: 1, GID: 2, ModTime: when, Xattrs: map[string]string{"user.d": "1"}},
		{Name: "d/suid", Mode: 0o4755, Size: 3, ModTime: when, Xattrs: map[string]string{"security.capability": "\x01\x00\x00\x02"}},
		{Name: "d/hard", HardLink: true, Link: "d/suid", Mode: 0o644},
		{Name: "d/sym", Mode: fs.ModeSymlink | 0o777, Link: "../d/suid", ModTime: when},
		{Name: "d/fifo", Mode: fs.ModeNamedPipe | 0o600, ModTime: when},
		{Name: "d/null", Mode: fs.ModeDevice | fs.ModeCharDevice | 0o666, Devmajor: 1, Devminor: 3, ModTime: when},
		{Name: "d/" + strings.Repeat("n", 120), Mode: 0o1644, ModTime: when},
		{Name: "d/.wh.gone", Mode: 0o600},
		{Name: "d/.wh..wh..opq", Mode: 0o600},
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, m := range entries {
		if err := tw.WriteHeader(m.Header()); err != nil {
			tb.Fatal(err)
		}
		if m.Size > 0 {
			tw.Write([]byte("elf")[:m.Size])
		}
	}
	if err := tw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}
