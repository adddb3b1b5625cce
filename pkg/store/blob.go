package store

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// ErrDigestMismatch is returned when a blob's bytes do not hash to the digest
// they were announced under.
var ErrDigestMismatch = errors.New("digest mismatch")

// BlobPath is where the blob h lives once written.
func (s *Store) BlobPath(h v1.Hash) string {
	return filepath.Join(s.root, "blobs", h.Algorithm, h.Hex)
}

// HasBlob reports whether the blob h is stored.
func (s *Store) HasBlob(h v1.Hash) bool {
	_, err := os.Stat(s.BlobPath(h))
	return err == nil
}

// OpenBlob opens the stored blob h.
func (s *Store) OpenBlob(h v1.Hash) (*os.File, error) {
	f, err := os.Open(s.BlobPath(h))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("blob %s: %w", h, ErrNotFound)
	}
	return f, err
}

// ReadBlob returns the content of a small stored blob (a manifest or config).
func (s *Store) ReadBlob(h v1.Hash) ([]byte, error) {
	f, err := s.OpenBlob(h)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// WriteBlob stores r under the digest h. The bytes land in tmp/ first and get
// their final name only when they hash to h and number size (size < 0: any
// size). On a mismatch nothing is stored and the error wraps ErrDigestMismatch.
func (s *Store) WriteBlob(h v1.Hash, size int64, r io.Reader) error {
	return s.writeBlob(h, size, r, true, nil)
}

// writeBlob is WriteBlob; without hash, r must check the digest itself and
// fail at its end on a mismatch (the blob then never gets its name). check,
// when set, has the last word before the blob is named.
func (s *Store) writeBlob(h v1.Hash, size int64, r io.Reader, hash bool, check func() error) error {
	if h.Algorithm != "sha256" {
		return fmt.Errorf("blob %s: unsupported digest algorithm %q", h, h.Algorithm)
	}
	if s.HasBlob(h) {
		return nil
	}
	w, err := s.NewBlobWriter()
	if err != nil {
		return err
	}
	if !hash {
		w.h = nil
	}
	defer w.Abort()
	n, err := io.Copy(w, r)
	if err != nil {
		return fmt.Errorf("blob %s: %w", h, err)
	}
	if size >= 0 && n != size {
		return fmt.Errorf("blob %s: %w: got %d bytes, want %d", h, ErrDigestMismatch, n, size)
	}
	if hash {
		if got := w.Digest(); got != h {
			return fmt.Errorf("blob %s: %w: content hashes to %s", h, ErrDigestMismatch, got)
		}
	}
	if check != nil {
		if err := check(); err != nil {
			return err
		}
	}
	return w.commitAs(h)
}

// WriteBlobBytes stores b and returns its descriptor digest.
func (s *Store) WriteBlobBytes(b []byte) (v1.Hash, error) {
	sum := sha256.Sum256(b)
	h := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
	return h, s.WriteBlob(h, int64(len(b)), bytesReader(b))
}

// BlobWriter writes a blob whose digest is known only at the end, such as a
// layer being compressed. Commit names it by its digest; Abort discards it.
type BlobWriter struct {
	store *Store
	f     *os.File
	h     hash.Hash
	n     int64
	done  bool
}

// NewBlobWriter starts a blob in the store's tmp/ directory.
func (s *Store) NewBlobWriter() (*BlobWriter, error) {
	f, err := os.CreateTemp(s.tmpDir(), "blob-*")
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	return &BlobWriter{store: s, f: f, h: sha256.New()}, nil
}

func (w *BlobWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	if w.h != nil {
		w.h.Write(p[:n])
	}
	w.n += int64(n)
	return n, err
}

// Digest is the digest of what has been written so far.
func (w *BlobWriter) Digest() v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(w.h.Sum(nil))}
}

// Size is the number of bytes written so far.
func (w *BlobWriter) Size() int64 { return w.n }

// Commit gives the blob its final name and returns its digest.
func (w *BlobWriter) Commit() (v1.Hash, error) {
	h := w.Digest()
	return h, w.commitAs(h)
}

func (w *BlobWriter) commitAs(h v1.Hash) error {
	if err := w.f.Close(); err != nil {
		w.Abort()
		return fmt.Errorf("blob %s: %w", h, err)
	}
	w.done = true
	// Concurrent writers of the same blob rename identical bytes: whichever
	// wins, the content under the final name is whole and correct.
	if err := os.Rename(w.f.Name(), w.store.BlobPath(h)); err != nil {
		os.Remove(w.f.Name())
		return fmt.Errorf("blob %s: %w", h, err)
	}
	return nil
}

// Abort discards the blob; it is a no-op after Commit.
func (w *BlobWriter) Abort() {
	if w.done {
		return
	}
	w.done = true
	w.f.Close()
	os.Remove(w.f.Name())
}

// ErrDiffIDMismatch is returned when a layer's uncompressed content does
// not hash to the diff ID its image's config gives it.
var ErrDiffIDMismatch = errors.New("diff_id mismatch")
