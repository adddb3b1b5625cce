package archive

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// verifyReader hashes what passes through and, at EOF, turns a mismatch with
// the expected digest into the read error, so nothing unverified is
// mistaken for a complete read.
type verifyReader struct {
	r      io.Reader
	c      io.Closer
	h      hash.Hash
	want   v1.Hash
	onFail func(got v1.Hash) error
	done   bool
}

func newVerifyReader(r io.Reader, c io.Closer, want v1.Hash, onFail func(got v1.Hash) error) *verifyReader {
	h, err := v1.Hasher(want.Algorithm)
	if err != nil {
		h = sha256.New()
	}
	return &verifyReader{r: r, c: c, h: h, want: want, onFail: onFail}
}

func (v *verifyReader) Read(p []byte) (int, error) {
	n, err := v.r.Read(p)
	v.h.Write(p[:n])
	if err == io.EOF && !v.done {
		v.done = true
		got := v1.Hash{Algorithm: v.want.Algorithm, Hex: hex.EncodeToString(v.h.Sum(nil))}
		if got != v.want {
			return n, v.onFail(got)
		}
	}
	return n, err
}

func (v *verifyReader) Close() error {
	if v.c == nil {
		return nil
	}
	return v.c.Close()
}

// hashBytes is the sha256 digest of b.
func hashBytes(b []byte) v1.Hash {
	sum := sha256.Sum256(b)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
