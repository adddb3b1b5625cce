package archive

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
)

// maxLinkHops bounds link chains, like the kernel's ELOOP limit.
const maxLinkHops = 40

type tarEntry struct {
	typ    byte
	offset int64 // of the content in the tar file
	size   int64
	link   string
	sparse bool // content is not stored contiguously; refused when opened
}

// tarSource serves the entries of a tar file through an index of where each
// entry's content lies, built in one pass over the headers.
type tarSource struct {
	f        *os.File
	entries  map[string]*tarEntry
	dirs     []string
	finished bool
}

// posReader counts how far the tar reader has got, which is where the
// content of the entry it just returned begins.
type posReader struct {
	r   io.Reader
	pos int64
}

func (p *posReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.pos += int64(n)
	return n, err
}

// seekPosReader lets archive/tar skip contents by seeking instead of reading.
type seekPosReader struct {
	posReader
	s io.Seeker
}

func (p *seekPosReader) Seek(off int64, whence int) (int64, error) {
	n, err := p.s.Seek(off, whence)
	if err == nil {
		p.pos = n
	}
	return n, err
}

// indexTar reads every header of the tar in r. size is the length of the
// stream when known (-1 otherwise) and only sharpens the truncation message.
func indexTar(f *os.File, r io.Reader, size int64) (*tarSource, error) {
	pr := &posReader{r: r}
	var tr *tar.Reader
	if s, ok := r.(io.Seeker); ok {
		spr := &seekPosReader{posReader: posReader{r: r}, s: s}
		pr = &spr.posReader
		tr = tar.NewReader(spr)
	} else {
		tr = tar.NewReader(pr)
	}
	t := &tarSource{f: f, entries: map[string]*tarEntry{}}
	dirs := map[string]bool{}
	var last string
	var lastEnd int64 // end of the last entry's content, padded to a block
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			t.finished = pr.pos > lastEnd || last == ""
			break
		}
		if err != nil {
			return nil, t.headerError(err, last, lastEnd, pr.pos, size)
		}
		name, err := cleanName(hdr.Name)
		if err != nil {
			return nil, fmt.Errorf("entry %w", err)
		}
		last = hdr.Name
		e := &tarEntry{typ: hdr.Typeflag, offset: pr.pos, size: hdr.Size}
		lastEnd = pr.pos + (hdr.Size+511)&^511
		switch hdr.Typeflag {
		case tar.TypeSymlink:
			e.link, e.size = hdr.Linkname, 0
		case tar.TypeLink:
			if e.link, err = cleanName(hdr.Linkname); err != nil {
				return nil, fmt.Errorf("hard link %q to %w", hdr.Name, err)
			}
			e.size = 0
		case tar.TypeGNUSparse:
			e.sparse = true
		case tar.TypeReg: // the reader reports old-style regular files (TypeRegA) as TypeReg
			e.typ = tar.TypeReg
			for k := range hdr.PAXRecords {
				if strings.HasPrefix(k, "GNU.sparse.") {
					e.sparse = true
				}
			}
		}
		if name == "" {
			continue
		}
		t.entries[name] = e
		top, _, nested := strings.Cut(name, "/")
		if nested || hdr.Typeflag == tar.TypeDir {
			dirs[top] = true
		}
	}
	for d := range dirs {
		t.dirs = append(t.dirs, d)
	}
	sort.Strings(t.dirs)
	return t, nil
}

func (t *tarSource) headerError(err error, last string, lastEnd, pos, size int64) error {
	var se *streamError
	var we *writeError
	if errors.As(err, &se) || errors.As(err, &we) {
		if last == "" {
			return err
		}
		return fmt.Errorf("%w (reading %q)", err, last)
	}
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		if last == "" {
			return fmt.Errorf("not a tar archive: %w", err)
		}
		return fmt.Errorf("corrupt tar header after %q: %w", last, err)
	}
	end := pos
	if size >= 0 {
		end = size
	}
	if last != "" && end < lastEnd {
		return fmt.Errorf("truncated: unexpected end of file in %q", last)
	}
	if last == "" {
		return errors.New("truncated: unexpected end of file in the first tar header")
	}
	return fmt.Errorf("truncated: unexpected end of file after %q", last)
}

func (t *tarSource) topDirs() []string { return t.dirs }
func (t *tarSource) complete() bool    { return t.finished }

func (t *tarSource) open(name string) (*file, error) {
	resolved, e, err := t.resolve(name)
	if err != nil {
		return nil, err
	}
	if e.typ != tar.TypeReg {
		return nil, fmt.Errorf("%q is not a regular file", name)
	}
	if e.sparse {
		return nil, fmt.Errorf("%q is a sparse file, which image archives never hold", name)
	}
	return &file{SectionReader: io.NewSectionReader(t.f, e.offset, e.size), name: resolved}, nil
}

// resolve follows symlinks in every component of name, and hard links, to
// the entry that holds the content.
func (t *tarSource) resolve(name string) (string, *tarEntry, error) {
	orig := name
	name, err := cleanName(name)
	if err != nil {
		return "", nil, err
	}
	hops := 0
	for {
		parts := strings.Split(name, "/")
		cur := ""
		restarted := false
		for i, p := range parts {
			next := path.Join(cur, p)
			e := t.entries[next]
			if e == nil || e.typ != tar.TypeSymlink {
				cur = next
				continue
			}
			if hops++; hops > maxLinkHops {
				return "", nil, fmt.Errorf("%q: too many levels of links", orig)
			}
			target, ok := joinLink(cur, e.link)
			if !ok {
				return "", nil, fmt.Errorf("%q is a link to %q, which %w", next, e.link, errEscapes)
			}
			name = path.Join(append([]string{target}, parts[i+1:]...)...)
			restarted = true
			break
		}
		if restarted {
			continue
		}
		e := t.entries[cur]
		if e == nil {
			return "", nil, fmt.Errorf("%q: %w", orig, fs.ErrNotExist)
		}
		if e.typ != tar.TypeLink {
			return cur, e, nil
		}
		if hops++; hops > maxLinkHops {
			return "", nil, fmt.Errorf("%q: too many levels of links", orig)
		}
		name = e.link
	}
}
