// Package compress is the one place that tells compressed streams apart and
// opens them: gzip, zstd, bzip2 and xz by their magic bytes (archives lie in
// their file names and media types often enough that neither is trusted),
// and the layer compressors.
package compress

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"fmt"
	"io"

	kgzip "github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/klauspost/pgzip"
	"github.com/ulikunitz/xz"
)

// Kind is a compression format.
type Kind int

// The formats gantry reads; it writes None, Gzip and Zstd.
const (
	None Kind = iota
	Gzip
	Zstd
	Bzip2
	Xz
)

func (k Kind) String() string {
	return [...]string{"none", "gzip", "zstd", "bzip2", "xz"}[k]
}

// Sniff tells the format from the first bytes of a stream (4 are enough
// for all but xz, which needs 6).
func Sniff(head []byte) Kind {
	switch {
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		return Gzip
	case bytes.HasPrefix(head, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return Zstd
	case bytes.HasPrefix(head, []byte("BZh")):
		return Bzip2
	case bytes.HasPrefix(head, []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}):
		return Xz
	}
	return None
}

// NewReader sniffs r and reads it decompressed (r as it is when it is not
// compressed). Close releases the decompressor; it does not close r.
func NewReader(r io.Reader) (io.ReadCloser, Kind, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, _ := br.Peek(6)
	k := Sniff(head)
	rc, err := Open(br, k)
	return rc, k, err
}

// Open reads r, compressed as k. Close releases the decompressor; it does
// not close r.
func Open(r io.Reader, k Kind) (io.ReadCloser, error) {
	switch k {
	case Gzip:
		zr, err := kgzip.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		return zr, nil
	case Zstd:
		zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
		return zstdCloser{zr}, nil
	case Bzip2:
		return io.NopCloser(bzip2.NewReader(r)), nil
	case Xz:
		xr, err := xz.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("xz: %w", err)
		}
		return io.NopCloser(xr), nil
	}
	return io.NopCloser(r), nil
}

type zstdCloser struct{ *zstd.Decoder }

func (z zstdCloser) Close() error { z.Decoder.Close(); return nil }

// GzipLevel is the level of gzip layers. pgzip's output depends on level
// and block size only, not on the number of cores: the digest is the same
// on every machine (TestGzipBytesArePinned). A build spends its time here,
// a push mostly does not: level 2 compresses the Go source tree (a 156 MB
// tar) in 0.31 s on this project's 2 cores, level 3 in 0.35 s and the
// default level 6 in 0.53 s, for 37.0, 36.2 and 32.9 MB (level 1 is no
// faster and makes 38.2 MB; go-containerregistry and crane use it).
const GzipLevel = 2

// NewWriter compresses into w as k (None: w as it is) on all cores.
func NewWriter(w io.Writer, k Kind) (io.WriteCloser, error) {
	switch k {
	case Gzip:
		return pgzip.NewWriterLevel(w, GzipLevel)
	case Zstd:
		return zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedDefault))
	case None:
		return nopWriteCloser{w}, nil
	}
	return nil, fmt.Errorf("gantry does not write %s", k)
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }
