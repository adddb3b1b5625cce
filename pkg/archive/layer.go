package archive

import (
	"github.com/gantry-build/gantry/internal/compress"

	"bufio"
	"io"
	"sync"

	"github.com/google/go-containerregistry/pkg/v1/types"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// blobLayer is a layer whose stored bytes are one file of the archive.
type blobLayer struct {
	a         *Archive
	path      string // the name the archive's metadata uses for the file
	size      int64
	mediaType types.MediaType
	diffID    v1.Hash
	digest    func() (v1.Hash, error)
}

var _ v1.Layer = (*blobLayer)(nil)

func (l *blobLayer) Digest() (v1.Hash, error)            { return l.digest() }
func (l *blobLayer) DiffID() (v1.Hash, error)            { return l.diffID, nil }
func (l *blobLayer) Size() (int64, error)                { return l.size, nil }
func (l *blobLayer) MediaType() (types.MediaType, error) { return l.mediaType, nil }

// Compressed returns the stored bytes, verified against the layer digest at EOF.
func (l *blobLayer) Compressed() (io.ReadCloser, error) {
	want, err := l.Digest()
	if err != nil {
		return nil, err
	}
	f, err := l.a.open(l.path)
	if err != nil {
		return nil, err
	}
	if f.Size() != l.size {
		f.Close()
		return nil, l.a.errorf("%q is %d bytes, but its descriptor says %d", l.path, f.Size(), l.size)
	}
	return newVerifyReader(f, f, want, func(got v1.Hash) error {
		if want == l.diffID {
			// An uncompressed layer's digest is its diff ID: the config's.
			return l.a.errorf("%q: diff_id mismatch: the config says %s, the content is %s", l.path, want, got)
		}
		return l.a.errorf("%q: digest mismatch: expected %s, got %s", l.path, want, got)
	}), nil
}

// Uncompressed returns the layer tar, verified against the diff ID at EOF.
func (l *blobLayer) Uncompressed() (io.ReadCloser, error) {
	rc, err := l.Compressed()
	if err != nil {
		return nil, err
	}
	want, _ := l.Digest()
	br := bufio.NewReaderSize(rc, 64<<10)
	head, _ := br.Peek(4)
	var r io.Reader
	closeFn := rc.Close
	if kind := compress.Sniff(head); kind != compress.None {
		zr, err := compress.Open(br, kind)
		if err != nil {
			rc.Close()
			return nil, l.a.errorf("%q: %w", l.path, err)
		}
		r = zr
		closeFn = func() error { zr.Close(); return rc.Close() }
	} else {
		if want == l.diffID {
			return &readCloser{Reader: br, close: rc.Close}, nil
		}
		r = br
	}
	return newVerifyReader(r, closerFunc(closeFn), l.diffID, func(got v1.Hash) error {
		return l.a.errorf("%q: diff_id mismatch: the config says %s, the content is %s", l.path, l.diffID, got)
	}), nil
}

type readCloser struct {
	io.Reader
	close func() error
}

func (r *readCloser) Close() error { return r.close() }

type closerFunc func() error

func (c closerFunc) Close() error { return c() }

// fileDigest is the digest of one stored layer file, computed at most once
// however many images share the file.
type fileDigest struct {
	once   sync.Once
	digest v1.Hash
	err    error
}

// storedDigest hashes the layer file as it is stored (the resolved name keys
// the cache, so files reached through links are hashed once).
func (a *Archive) storedDigest(resolved string) (v1.Hash, error) {
	a.mu.Lock()
	fd := a.layers[resolved]
	if fd == nil {
		fd = &fileDigest{}
		a.layers[resolved] = fd
	}
	a.mu.Unlock()
	fd.once.Do(func() {
		f, err := a.open(resolved)
		if err != nil {
			fd.err = err
			return
		}
		defer f.Close()
		h, _, err := v1.SHA256(f)
		if err != nil {
			fd.err = a.errorf("reading %q: %w", resolved, err)
			return
		}
		fd.digest = h
	})
	return fd.digest, fd.err
}

// open opens a file of the archive, with the one-line error the user sees.
func (a *Archive) open(name string) (*file, error) {
	f, err := a.src.open(name)
	if err == nil {
		return f, nil
	}
	if isNotExist(err) {
		return nil, a.errorf("%q is not in the archive%s", name, a.truncatedHint())
	}
	return nil, a.errorf("%w", err)
}

func (a *Archive) truncatedHint() string {
	if a.src.complete() {
		return ""
	}
	return " (the tar has no end-of-archive marker: is it truncated?)"
}
