package archive

import (
	"archive/tar"
	"fmt"
	"io"
	"path"
	"time"
)

// tarWriter writes archive entries with fixed metadata (mtime 0, root
// owner), so the same images always give the same bytes.
type tarWriter struct {
	tw      *tar.Writer
	written map[string]bool
	sizes   map[string]int64
	buf     []byte
}

func newTarWriter(w io.Writer) *tarWriter {
	return &tarWriter{tw: tar.NewWriter(w), written: map[string]bool{}, sizes: map[string]int64{}, buf: make([]byte, 1<<20)}
}

func header(name string, typ byte, mode, size int64) *tar.Header {
	return &tar.Header{
		Name:     name,
		Typeflag: typ,
		Mode:     mode,
		Size:     size,
		ModTime:  time.Unix(0, 0),
		Format:   tar.FormatPAX,
	}
}

// has tells whether name was written already.
func (t *tarWriter) has(name string) bool { return t.written[name] }

// size is the size of the regular file written at name.
func (t *tarWriter) size(name string) int64 { return t.sizes[name] }

// parents writes the directory entries above name that are not written yet.
func (t *tarWriter) parents(name string) error {
	dir := path.Dir(name)
	if dir == "." || t.written[dir+"/"] {
		return nil
	}
	if err := t.parents(dir); err != nil {
		return err
	}
	t.written[dir+"/"] = true
	return t.tw.WriteHeader(header(dir+"/", tar.TypeDir, 0o755, 0))
}

func (t *tarWriter) begin(h *tar.Header) error {
	if err := t.parents(h.Name); err != nil {
		return err
	}
	t.written[h.Name] = true
	t.sizes[h.Name] = h.Size
	return t.tw.WriteHeader(h)
}

func (t *tarWriter) bytes(name string, b []byte) error {
	if err := t.begin(header(name, tar.TypeReg, 0o644, int64(len(b)))); err != nil {
		return err
	}
	_, err := t.tw.Write(b)
	return err
}

func (t *tarWriter) symlink(name, target string) error {
	h := header(name, tar.TypeSymlink, 0o777, 0)
	h.Linkname = target
	return t.begin(h)
}

// stream writes exactly size bytes from r, then reads r to its end, which is
// where verifying readers report a digest mismatch; a stream of another
// length is an error, not a corrupt archive.
func (t *tarWriter) stream(name string, size int64, r io.Reader) error {
	if err := t.begin(header(name, tar.TypeReg, 0o644, size)); err != nil {
		return err
	}
	n, err := io.CopyBuffer(t.tw, io.LimitReader(r, size), t.buf)
	if err != nil {
		return err
	}
	if n != size {
		return fmt.Errorf("%s: got %d bytes, expected %d", name, n, size)
	}
	var one [1]byte
	for {
		m, err := r.Read(one[:])
		if m > 0 {
			return fmt.Errorf("%s: longer than the expected %d bytes", name, size)
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func (t *tarWriter) close() error { return t.tw.Close() }
