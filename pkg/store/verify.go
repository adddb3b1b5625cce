package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/gantry-build/gantry/internal/compress"
	"github.com/gantry-build/gantry/pkg/progress"
)

// A layer's diff ID (the digest of its uncompressed tar, from the image
// config's rootfs.diff_ids) names what gets unpacked: the unpacked-tree
// cache is keyed by chain IDs made of diff IDs, so a layer whose content is
// not its diff ID would plant that content under the name of another
// image's layers. Nothing compares the two but gantry: a manifest only pins
// the compressed bytes. So every layer is checked against its diff ID on the
// way into the store (hashing while the blob is written, on another core),
// the result is recorded beside the blob (diffids/sha256/<blob hex>), and a
// blob already stored is taken under a diff ID only when its record says so.

// Decompress reads a layer blob as its tar, whatever it is compressed with.
func Decompress(r io.Reader) (io.ReadCloser, error) {
	rc, _, err := compress.NewReader(r)
	return rc, err
}

// diffHasher hashes the uncompressed content of the compressed bytes
// written to it, on its own goroutine, so that a download is written to
// disk and decompressed at the same time. Writes fail once decompression
// has failed, which stops the download early.
type diffHasher struct {
	ch   chan []byte
	done chan struct{}

	mu  sync.Mutex
	err error // decompression failed
	got v1.Hash
}

func newDiffHasher() *diffHasher {
	d := &diffHasher{ch: make(chan []byte, 16), done: make(chan struct{})}
	go d.run()
	return d
}

func (d *diffHasher) run() {
	defer close(d.done)
	src := &chanReader{ch: d.ch}
	h := sha256.New()
	err := hashUncompressed(h, src)
	d.mu.Lock()
	d.err = err
	d.got = v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
	d.mu.Unlock()
	// Whatever follows the compressed stream, and everything after a
	// failure, is drained so that writers never block.
	for range d.ch {
	}
}

// hashUncompressed writes what r decompresses to into h. The hash runs on
// a goroutine of its own beside the decompression, handed 256 KiB buffers:
// on a large layer each takes a core (the Go source tree's tar.gz, 156 MB
// inflated: 0.44 → 0.40 s here; an io.Pipe's 32 KiB hand-offs made it
// slower, 0.48 s).
func hashUncompressed(h hash.Hash, r io.Reader) error {
	rc, err := Decompress(r)
	if err != nil {
		return err
	}
	defer rc.Close()
	const n, size = 4, 256 << 10
	free, full := make(chan []byte, n), make(chan []byte, n)
	for range n {
		free <- make([]byte, size)
	}
	hashed := make(chan struct{})
	go func() {
		defer close(hashed)
		for b := range full {
			h.Write(b)
			free <- b[:cap(b)]
		}
	}()
	for {
		b := <-free
		m, rerr := fill(rc, b)
		if m > 0 {
			full <- b[:m]
		}
		if rerr != nil {
			if rerr != io.EOF {
				err = rerr // a decompressor's io.ErrUnexpectedEOF too: a stream cut short
			}
			break
		}
	}
	close(full)
	<-hashed
	return err
}

// fill reads from r into b until b is full or r fails; unlike io.ReadFull
// it gives r's own error (io.EOF at its end), so that a stream cut short
// is not taken for one that ended.
func fill(r io.Reader, b []byte) (n int, err error) {
	for n < len(b) && err == nil {
		var m int
		m, err = r.Read(b[n:])
		n += m
	}
	return n, err
}

func (d *diffHasher) Write(p []byte) (int, error) {
	d.mu.Lock()
	err := d.err
	d.mu.Unlock()
	if err != nil {
		return 0, err
	}
	d.ch <- bytes.Clone(p)
	return len(p), nil
}

// sum ends the stream and returns the uncompressed content's digest.
func (d *diffHasher) sum() (v1.Hash, error) {
	close(d.ch)
	<-d.done
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.got, d.err
}

// stop ends the stream when the copy failed; sum is then never called.
func (d *diffHasher) stop() {
	select {
	case <-d.done:
	default:
		close(d.ch)
		<-d.done
	}
}

type chanReader struct {
	ch  <-chan []byte
	cur []byte
}

func (c *chanReader) Read(p []byte) (int, error) {
	for len(c.cur) == 0 {
		b, ok := <-c.ch
		if !ok {
			return 0, io.EOF
		}
		c.cur = b
	}
	n := copy(p, c.cur)
	c.cur = c.cur[n:]
	return n, nil
}

// diffIDMismatch is the error naming what a layer holds and what its
// config said.
func diffIDMismatch(blob, got, want v1.Hash) error {
	return fmt.Errorf("%s: %w: its uncompressed content is %s, but the image config's rootfs.diff_ids says %s", blob, ErrDiffIDMismatch, got, want)
}

// Where the records live: diffids/sha256/<blob hex> holds the blob's diff
// ID, diffids/compressed/<diff ID hex> the digest of gantry's gzip of it.
func (s *Store) diffIDDir() string     { return filepath.Join(s.root, "diffids", "sha256") }
func (s *Store) compressedDir() string { return filepath.Join(s.root, "diffids", "compressed") }

func (s *Store) diffIDRecord(blob v1.Hash) string {
	return filepath.Join(s.diffIDDir(), blob.Hex)
}

// VerifiedDiffID returns the diff ID the stored blob was checked to have,
// if it was.
func (s *Store) VerifiedDiffID(blob v1.Hash) (v1.Hash, bool) {
	b, err := os.ReadFile(s.diffIDRecord(blob))
	if err != nil {
		return v1.Hash{}, false
	}
	h, err := v1.NewHash(strings.TrimSpace(string(b)))
	return h, err == nil
}

// recordDiffID notes that blob, stored, decompresses to diffID. A failed
// write only costs a second check later.
func (s *Store) recordDiffID(blob, diffID v1.Hash) {
	path := s.diffIDRecord(blob)
	if os.MkdirAll(filepath.Dir(path), 0o700) != nil {
		return
	}
	_ = s.replaceFile(path, []byte(diffID.String()))
}

// checkStoredLayer makes sure the stored blob decompresses to diffID: from
// its record, or by reading it once (a blob stored by an older gantry).
func (s *Store) checkStoredLayer(blob, diffID v1.Hash) error {
	if got, ok := s.VerifiedDiffID(blob); ok {
		if got != diffID {
			return diffIDMismatch(blob, got, diffID)
		}
		return nil
	}
	f, err := s.OpenBlob(blob)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	if err := hashUncompressed(h, f); err != nil {
		return fmt.Errorf("%s: %w", blob, err)
	}
	got := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
	if got != diffID {
		return diffIDMismatch(blob, got, diffID)
	}
	s.recordDiffID(blob, diffID)
	return nil
}

// verifyingReader checks at EOF that what it passed on hashes to want.
type verifyingReader struct {
	rc   io.ReadCloser
	h    hash.Hash
	want v1.Hash
	blob v1.Hash
	err  error
}

func (v *verifyingReader) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	n, err := v.rc.Read(p)
	v.h.Write(p[:n])
	if errors.Is(err, io.EOF) {
		got := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(v.h.Sum(nil))}
		if got != v.want {
			v.err = diffIDMismatch(v.blob, got, v.want)
			return n, v.err
		}
	}
	return n, err
}

func (v *verifyingReader) Close() error { return v.rc.Close() }

// WriteLayer stores the blob of layer l, described by ld, checking its
// uncompressed content against diffID (the image config's) as it is
// written. A blob already stored must be known, or found on reading it
// once, to decompress to diffID.
func (s *Store) WriteLayer(ctx context.Context, l v1.Layer, ld v1.Descriptor, diffID v1.Hash, label string, rep progress.Reporter) error {
	if rep == nil {
		rep = progress.Nop()
	}
	if s.HasBlob(ld.Digest) {
		if err := s.checkStoredLayer(ld.Digest, diffID); err != nil {
			return fmt.Errorf("%s: %w", label, err)
		}
		rep.Skip(ld.Digest.String(), label, "already in store")
		return nil
	}
	return s.writeLayer(ctx, l, ld, diffID, label, rep, false)
}

// CommitLayer names the blob, the compression of a tar whose digest the
// caller took from the very bytes it compressed, and records that digest as
// the blob's diff ID.
func (w *BlobWriter) CommitLayer(diffID v1.Hash) (v1.Hash, error) {
	h, err := w.Commit()
	if err != nil {
		return h, err
	}
	w.store.recordDiffID(h, diffID)
	return h, nil
}

func (s *Store) compressedRecord(diffID v1.Hash) string {
	return filepath.Join(s.compressedDir(), diffID.Hex)
}

// RememberCompressed notes that the stored blob is gantry's compression of
// the tar with diffID, so that loading the same uncompressed layer again
// (a docker archive loaded twice) needs no compression. The blob must have
// been committed with CommitLayer.
func (s *Store) RememberCompressed(diffID, blob v1.Hash) {
	path := s.compressedRecord(diffID)
	if os.MkdirAll(filepath.Dir(path), 0o700) != nil {
		return
	}
	_ = s.replaceFile(path, []byte(blob.String()))
}

// CompressedOf returns a stored blob that decompresses to diffID, made by
// RememberCompressed, with its size.
func (s *Store) CompressedOf(diffID v1.Hash) (v1.Hash, int64, bool) {
	b, err := os.ReadFile(s.compressedRecord(diffID))
	if err != nil {
		return v1.Hash{}, 0, false
	}
	blob, err := v1.NewHash(strings.TrimSpace(string(b)))
	if err != nil {
		return v1.Hash{}, 0, false
	}
	// Only what the blob's own record says counts (it goes when the blob
	// is pruned).
	if got, ok := s.VerifiedDiffID(blob); !ok || got != diffID {
		return v1.Hash{}, 0, false
	}
	fi, err := os.Stat(s.BlobPath(blob))
	if err != nil {
		return v1.Hash{}, 0, false
	}
	return blob, fi.Size(), true
}

// VerifyUncompressed wraps the uncompressed stream of the layer blob so
// that its end fails unless what was read hashes to diffID: whoever unpacks
// a layer reads it to the end (see rootfs.Unpack).
func VerifyUncompressed(rc io.ReadCloser, blob, diffID v1.Hash) io.ReadCloser {
	return &verifyingReader{rc: rc, h: sha256.New(), want: diffID, blob: blob}
}
