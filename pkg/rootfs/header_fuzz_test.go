package rootfs

import (
	"archive/tar"
	"bytes"
	"io/fs"
	"reflect"
	"testing"
	"time"
)

// kinds are the file types the codec carries, as the fuzzer picks them.
var kinds = []fs.FileMode{0, fs.ModeDir, fs.ModeSymlink, fs.ModeNamedPipe, fs.ModeDevice, fs.ModeDevice | fs.ModeCharDevice}

// fuzzMeta makes a Meta of the fuzzer's values as a writer of the codec
// would: the fields its kind does not carry left empty.
func fuzzMeta(name string, kind uint8, hard bool, mode uint16, uid, gid uint32, body []byte, link string, major, minor uint16, sec int64, nsec uint32, xname, xvalue string) Meta {
	m := Meta{Name: name, Mode: kinds[int(kind)%len(kinds)] | ModeFromUnix(int64(mode)), UID: int(uid % (1 << 24)), GID: int(gid % (1 << 24)),
		ModTime: time.Unix(sec%(1<<36), int64(nsec%1e9))}
	switch {
	case m.Mode.IsRegular() && hard:
		m.HardLink, m.Link = true, link
	case m.Mode.IsRegular():
		m.Size = int64(len(body))
	case m.Mode&fs.ModeSymlink != 0:
		m.Link = link
	case m.Mode&fs.ModeDevice != 0:
		m.Devmajor, m.Devminor = int64(major), int64(minor)
	}
	if xname != "" {
		m.Xattrs = map[string]string{xname: xvalue}
	}
	return m
}

// FuzzHeaderCodec: a Meta written as a tar header, read back by
// archive/tar, is the same Meta (what the tar writer refuses is refused
// with an error, not written wrong); on Linux and macOS the header,
// applied to a folder and read back from the file, is the same metadata
// too (fuzzApplied).
//
//	go test -run '^$' -fuzz=FuzzHeaderCodec -fuzztime=30s ./pkg/rootfs/
func FuzzHeaderCodec(f *testing.F) {
	f.Add("usr/bin/ping", uint8(0), false, uint16(0o4755), uint32(0), uint32(0), []byte("elf"), "", uint16(0), uint16(0), int64(1700000000), uint32(5), "security.capability", "\x01\x00\x00\x02\x00\x20\x00\x00")
	f.Add("tmp", uint8(1), false, uint16(0o1777), uint32(0), uint32(0), []byte(nil), "", uint16(0), uint16(0), int64(0), uint32(0), "", "")
	f.Add("srv/ünï cødé", uint8(1), false, uint16(0o2750), uint32(1000), uint32(1001), []byte(nil), "", uint16(0), uint16(0), int64(-1), uint32(999999999), "user.x", "")
	f.Add("lib/libc.so", uint8(2), false, uint16(0o777), uint32(0), uint32(0), []byte(nil), "../lib64/"+string(make([]byte, 0))+"libc.so.6", uint16(0), uint16(0), int64(1), uint32(0), "", "")
	f.Add("dev/null", uint8(5), false, uint16(0o666), uint32(0), uint32(0), []byte(nil), "", uint16(1), uint16(3), int64(0), uint32(0), "", "")
	f.Add("dev/sda", uint8(4), false, uint16(0o660), uint32(0), uint32(6), []byte(nil), "", uint16(8), uint16(0), int64(0), uint32(0), "", "")
	f.Add("run/fifo", uint8(3), false, uint16(0o600), uint32(65534), uint32(65534), []byte(nil), "", uint16(0), uint16(0), int64(0), uint32(0), "", "")
	f.Add("a/hard", uint8(0), true, uint16(0o644), uint32(0), uint32(0), []byte(nil), "a/first", uint16(0), uint16(0), int64(0), uint32(0), "", "")
	f.Add(string(bytes.Repeat([]byte("long/"), 40))+"name", uint8(0), false, uint16(0), uint32(1<<22), uint32(0), []byte(""), "", uint16(0), uint16(0), int64(1<<34), uint32(1), "user.long", string(bytes.Repeat([]byte("v"), 300)))
	f.Fuzz(func(t *testing.T, name string, kind uint8, hard bool, mode uint16, uid, gid uint32, body []byte, link string, major, minor uint16, sec int64, nsec uint32, xname, xvalue string) {
		m := fuzzMeta(name, kind, hard, mode, uid, gid, body, link, major, minor, sec, nsec, xname, xvalue)
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		if err := tw.WriteHeader(m.Header()); err != nil {
			return // the writer refuses it (a NUL in a name, an empty xattr name …): nothing written wrong
		}
		if m.Size > 0 {
			tw.Write(body)
		}
		if err := tw.Close(); err != nil {
			t.Fatal(err)
		}
		h, err := tar.NewReader(bytes.NewReader(buf.Bytes())).Next()
		if err != nil {
			t.Fatalf("the tar the codec wrote does not read back: %v", err)
		}
		got, ok := MetaOf(h)
		if !ok {
			t.Fatalf("header %+v reads back as no file", h)
		}
		want := m
		want.Name = normalName(m)
		if !got.ModTime.Equal(want.ModTime) {
			t.Fatalf("mtime %v reads back as %v", want.ModTime, got.ModTime)
		}
		got.ModTime = want.ModTime
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("the header round trip changed the metadata:\nwrote %+v\nread  %+v", want, got)
		}
		fuzzApplied(t, buf.Bytes(), want, body)
	})
}

// normalName is the name a reader gets back for m: Header ends a
// directory's name in "/", which MetaOf takes off again; a name that
// already ended in "/" loses one.
func normalName(m Meta) string {
	if n := len(m.Name); n > 0 && m.Name[n-1] == '/' && !m.Mode.IsDir() {
		return m.Name[:n-1]
	}
	return m.Name
}
