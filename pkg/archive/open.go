package archive

import (
	"github.com/gantry-build/gantry/internal/compress"

	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Open opens a docker-save archive (any Docker generation), an OCI layout tar
// or an OCI layout directory. A compressed tar (gzip or zstd, told by its
// magic bytes) is decompressed once into a temporary file that Close removes;
// a plain tar is indexed in one pass over its headers and read in place.
// Truncation is reported here, naming the entry it cut.
func Open(path string) (*Archive, error) {
	a := &Archive{path: path, layers: map[string]*fileDigest{}}
	st, err := os.Stat(path)
	if err != nil {
		return nil, a.errorf("%v", bareError(err))
	}
	if st.IsDir() {
		root, err := os.OpenRoot(path)
		if err != nil {
			return nil, a.errorf("%v", bareError(err))
		}
		a.src, a.cleanup = &dirSource{root: root}, root.Close
		return a, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, a.errorf("%v", bareError(err))
	}
	head := make([]byte, 6)
	n, _ := f.ReadAt(head, 0)
	head = head[:n]
	switch {
	case compress.Sniff(head) != compress.None:
		defer f.Close()
		if err := a.decompress(f, compress.Sniff(head)); err != nil {
			return nil, err
		}
		return a, nil
	case bytes.HasPrefix(head, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		f.Close()
		return nil, a.errorf("xz-compressed archives are not supported: decompress it first (xz -d)")
	case bytes.HasPrefix(head, []byte("BZh")):
		f.Close()
		return nil, a.errorf("bzip2-compressed archives are not supported: decompress it first (bunzip2)")
	}
	src, err := indexTar(f, f, st.Size())
	if err != nil {
		f.Close()
		return nil, a.errorf("%v", err)
	}
	a.src, a.cleanup = src, f.Close
	return a, nil
}

// decompress copies the decompressed tar into a temporary file while
// indexing it, so the archive is decompressed exactly once.
func (a *Archive) decompress(f *os.File, kind compress.Kind) error {
	format := kind.String()
	dr, err := compress.Open(bufio.NewReaderSize(f, 1<<20), kind)
	if err != nil {
		return a.errorf("%v", err)
	}
	defer dr.Close()
	tmp, err := os.CreateTemp("", "gantry-archive-*.tar")
	if err != nil {
		return a.errorf("decompressing: %v", err)
	}
	remove := func() error {
		err := tmp.Close()
		if rerr := os.Remove(tmp.Name()); err == nil {
			err = rerr
		}
		return err
	}
	bw := bufio.NewWriterSize(tmp, 1<<20)
	sr := &streamReader{r: dr, format: format}
	src, err := indexTar(tmp, io.TeeReader(sr, &writeTracker{w: bw}), -1)
	if err == nil {
		// The rest is tar padding and the compressed stream's checksum,
		// which only a read to the end verifies.
		if _, err = io.Copy(bw, sr); errors.Is(err, io.ErrUnexpectedEOF) {
			err = fmt.Errorf("truncated: unexpected end of the %s stream after the last entry", format)
		}
	}
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		remove()
		var we *writeError
		if errors.As(err, &we) {
			return a.errorf("decompressing into %s: %v", tmp.Name(), we.err)
		}
		return a.errorf("%v", err)
	}
	a.src, a.cleanup = src, remove
	return nil
}

// streamReader marks corruption of the compressed stream, so it is not
// reported as a bad tar header.
type streamReader struct {
	r      io.Reader
	format string
}

func (s *streamReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF && !errors.Is(err, io.ErrUnexpectedEOF) {
		var we *writeError
		if !errors.As(err, &we) {
			err = &streamError{format: s.format, err: err}
		}
	}
	return n, err
}

type streamError struct {
	format string
	err    error
}

func (e *streamError) Error() string { return fmt.Sprintf("corrupt %s stream: %v", e.format, e.err) }

type writeError struct{ err error }

func (w *writeError) Error() string { return w.err.Error() }

// writeTracker keeps a failed write of the temporary copy (a full disk)
// distinguishable from a bad archive.
type writeTracker struct{ w io.Writer }

func (t *writeTracker) Write(p []byte) (int, error) {
	n, err := t.w.Write(p)
	if err != nil {
		err = &writeError{err}
	}
	return n, err
}

// bareError drops the path from an *fs.PathError: the message already
// starts with the archive's name.
func bareError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Images lists the images of the archive. Docker's manifest.json is read as
// `docker load` reads it; index.json adds the multi-platform images (and any
// image manifest.json does not list); without either, the pre-1.10
// `repositories` layout is rebuilt the way Docker's legacy loader does.
func (a *Archive) Images() ([]Loaded, error) {
	rawManifest, err := a.readMetadata("manifest.json")
	if err != nil && !isNotExist(err) {
		return nil, err
	}
	rawIndex, err := a.readMetadata("index.json")
	if err != nil && !isNotExist(err) {
		return nil, err
	}
	if rawManifest != nil || rawIndex != nil {
		return a.modernImages(rawManifest, rawIndex)
	}
	rawRepos, err := a.readMetadata("repositories")
	if err != nil && !isNotExist(err) {
		return nil, err
	}
	if rawRepos != nil {
		return a.legacyImages(rawRepos)
	}
	return nil, a.errorf("%w%s", ErrNotImageArchive, a.truncatedHint())
}

// loadedSet collects images, merging the names of one image found through
// several routes. An image is the same when its config is; the images of an
// index are told apart from single images, because a tag on one platform's
// manifest in index.json names that image, not the index.
type loadedSet struct {
	out     []Loaded
	names   []*tagList      // out[i]'s names, while they are collected
	inIndex map[v1.Hash]int // configs of the images of each index
	single  map[v1.Hash]int // configs of manifest.json entries
}

func (s *loadedSet) add(l Loaded, at map[v1.Hash]int, configs ...v1.Hash) {
	for _, c := range configs {
		if _, ok := at[c]; !ok {
			at[c] = len(s.out)
		}
	}
	names := &tagList{}
	names.add(l.Names)
	s.out = append(s.out, l)
	s.names = append(s.names, names)
}

// merge adds names to the image at[c], if there is one.
func (s *loadedSet) merge(at map[v1.Hash]int, c v1.Hash, names []name.Tag) bool {
	i, ok := at[c]
	if !ok {
		return false
	}
	s.names[i].add(names)
	return true
}

// loaded is the collected images with their names.
func (s *loadedSet) loaded() []Loaded {
	for i := range s.out {
		s.out[i].Names = s.names[i].tags
	}
	return s.out
}

// tagList is names in the order met, without duplicates. The set keeps it
// linear: an archive may name one image thousands of times, and comparing
// each name with all the others took seconds for a few thousand.
type tagList struct {
	tags []name.Tag
	seen map[string]bool
}

func (l *tagList) add(ts []name.Tag) {
	for _, t := range ts {
		n := t.Name()
		if l.seen[n] {
			continue
		}
		if l.seen == nil {
			l.seen = map[string]bool{}
		}
		l.seen[n] = true
		l.tags = append(l.tags, t)
	}
}

func mergeNames(have, more []name.Tag) []name.Tag {
	for _, t := range more {
		dup := false
		for _, h := range have {
			dup = dup || h.Name() == t.Name()
		}
		if !dup {
			have = append(have, t)
		}
	}
	return have
}

func (a *Archive) modernImages(rawManifest, rawIndex []byte) ([]Loaded, error) {
	set := &loadedSet{inIndex: map[v1.Hash]int{}, single: map[v1.Hash]int{}}
	var images []v1.Descriptor // image entries of index.json, first of each digest
	imageNames := map[v1.Hash]*tagList{}
	if rawIndex != nil {
		im, err := v1.ParseIndexManifest(bytes.NewReader(rawIndex))
		if err != nil {
			return nil, a.errorf("index.json is not an OCI image index: %v", err)
		}
		indexAt := map[v1.Hash]int{}
		for _, d := range im.Manifests {
			mt := d.MediaType
			if mt == "" {
				raw, err := a.readBlob(d, "index.json")
				if err != nil {
					return nil, err
				}
				mt = mediaTypeOf(d, raw)
			}
			switch {
			case mt.IsIndex():
				if i, ok := indexAt[d.Digest]; ok {
					set.names[i].add(refNames(d))
					continue
				}
				idx, configs, err := a.loadIndex(d)
				if err != nil {
					return nil, err
				}
				indexAt[d.Digest] = len(set.out)
				var cs []v1.Hash
				for c := range configs {
					cs = append(cs, c)
				}
				set.add(Loaded{Names: refNames(d), Index: idx}, set.inIndex, cs...)
			case mt.IsImage():
				if _, seen := imageNames[d.Digest]; !seen {
					images = append(images, d)
					imageNames[d.Digest] = &tagList{}
				}
				imageNames[d.Digest].add(refNames(d))
			}
		}
	}
	if rawManifest != nil {
		entries, err := a.parseManifestJSON(rawManifest)
		if err != nil {
			return nil, err
		}
		for n, e := range entries {
			l, config, err := a.dockerImage(n, e)
			if err != nil {
				return nil, err
			}
			// Docker names the platform it loads from an index with the
			// index's own names: those belong to the index.
			if !set.merge(set.inIndex, config, l.Names) && !set.merge(set.single, config, l.Names) {
				set.add(l, set.single, config)
			}
		}
	}
	for _, d := range images {
		raw, err := a.readBlob(d, "index.json")
		if err != nil {
			return nil, err
		}
		var m v1.Manifest
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, a.errorf("image %s: manifest is not JSON: %v", d.Digest, err)
		}
		// manifest.json already gave this image as `docker load` sees it.
		if set.merge(set.single, m.Config.Digest, imageNames[d.Digest].tags) {
			continue
		}
		img, err := a.ociImage(d, "index.json")
		if err != nil {
			return nil, err
		}
		set.add(Loaded{Names: imageNames[d.Digest].tags, Image: img}, set.single, m.Config.Digest)
	}
	return set.loaded(), nil
}
