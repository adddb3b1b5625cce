package layer

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"github.com/gantry-build/gantry/internal/parallel"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/gantry-build/gantry/internal/compress"
	"github.com/gantry-build/gantry/pkg/store"
)

// Compression of a new layer.
const (
	Gzip = "gzip"
	Zstd = "zstd"
	None = "none"
)

// Built is a layer in the store.
type Built struct {
	Descriptor v1.Descriptor // compressed blob
	DiffID     v1.Hash       // digest of the uncompressed tar
	Cached     bool          // nothing was tarred or compressed: the content cache knew it
}

// Build tars entries, compresses the tar on all cores and stores the blob,
// hashing the tar and the compressed bytes in the same pass. oci picks OCI
// media types over Docker's. An unchanged set of files (same names, modes
// and content hashes, same options) is found in the store's content cache
// and not tarred again.
func Build(ctx context.Context, st *store.Store, entries []Entry, o Options, compression string, oci bool) (Built, error) {
	return BuildTee(ctx, st, entries, o, compression, oci, nil)
}

// BuildTee is Build that also writes the uncompressed tar to tee, when it
// is made (not on a content-cache hit: then Cached is true).
func BuildTee(ctx context.Context, st *store.Store, entries []Entry, o Options, compression string, oci bool, tee io.Writer) (Built, error) {
	mt, err := mediaType(compression, oci)
	if err != nil {
		return Built{}, err
	}
	// A build of files unchanged since an earlier one is known by their
	// stat alone, without the file-hash cache: every process would decode
	// all of it (12,800 files: as long as listing them).
	skey, statKnown := statKey(entries, o, compression, mt)
	if statKnown {
		if b, ok := lookup(st, skey); ok {
			return b, nil
		}
	}
	built, err := buildByContent(ctx, st, entries, o, compression, mt, tee)
	if err == nil && statKnown {
		remember(st, skey, built)
	}
	return built, err
}

// buildByContent is BuildTee past the stat key: the content cache is
// consulted when some files' hashes are known, else the layer is made.
func buildByContent(ctx context.Context, st *store.Store, entries []Entry, o Options, compression string, mt types.MediaType, tee io.Writer) (Built, error) {
	hashes := openHashCache(st)
	defer hashes.save()
	// Files unchanged since an earlier build are known by their stat alone.
	// When some are, the few others are hashed and the cache consulted; when
	// none are (a folder never built), reading it twice would only cost.
	var err error
	sums := make([][]byte, len(entries))
	var unknown []int
	seen := false
	for i, e := range entries {
		if !hasContent(e) {
			continue
		}
		var ok bool
		if sums[i], ok = hashes.get(e); ok {
			seen = true
		} else {
			unknown = append(unknown, i)
		}
	}
	if seen || len(unknown) == 0 {
		for _, i := range unknown {
			if sums[i], err = hashFile(entries[i]); err != nil {
				return Built{}, err
			}
			hashes.put(entries[i], sums[i])
		}
		if b, ok := lookup(st, cacheKey(entries, sums, o, compression, mt)); ok {
			return b, nil
		}
	}
	// Content hashes for the cache key are taken from the bytes going into
	// the tar: a cold build reads each file once.
	sums = make([][]byte, len(entries))
	b, err := storeStream(ctx, st, compression, mt, func(w io.Writer) error {
		if tee != nil {
			w = io.MultiWriter(w, tee)
		}
		return write(w, entries, o, sums)
	})
	if err != nil {
		return Built{}, err
	}
	for i, e := range entries {
		if hasContent(e) {
			hashes.put(e, sums[i])
		}
	}
	remember(st, cacheKey(entries, sums, o, compression, mt), b)
	return b, nil
}

// FromWriter stores as a layer whatever tar stream fill writes (a RUN's
// changeset, an ADDed archive), compressed on the way in.
func FromWriter(ctx context.Context, st *store.Store, compression string, oci bool, fill func(io.Writer) error) (Built, error) {
	mt, err := mediaType(compression, oci)
	if err != nil {
		return Built{}, err
	}
	return storeStream(ctx, st, compression, mt, fill)
}

// Fingerprint is a digest of what a layer built from entries would hold:
// names, modes, sizes, links and content hashes (from the stat cache where
// files are unchanged). Build steps key their cache with it.
func Fingerprint(st *store.Store, entries []Entry, o Options) (string, error) {
	hashes := openHashCache(st)
	defer hashes.save()
	sums := make([][]byte, len(entries))
	for i, e := range entries {
		if !hasContent(e) {
			continue
		}
		var ok bool
		if sums[i], ok = hashes.get(e); ok {
			continue
		}
		var err error
		if sums[i], err = hashFile(e); err != nil {
			return "", err
		}
		hashes.put(e, sums[i])
	}
	return cacheKey(entries, sums, o, "", ""), nil
}

// KnownFingerprint is Fingerprint from the stat cache alone: ok is false
// when some file has not been hashed before (a folder never built), and
// nothing is read but the files whose hash was recorded from a racy
// listing (hashCache.get).
func KnownFingerprint(st *store.Store, entries []Entry, o Options) (fp string, ok bool) {
	hashes := openHashCache(st)
	sums := make([][]byte, len(entries))
	for i, e := range entries {
		if !hasContent(e) {
			continue
		}
		if sums[i], ok = hashes.get(e); !ok {
			return "", false
		}
	}
	return cacheKey(entries, sums, o, "", ""), true
}

// FromTar stores a tar stream (a root filesystem being imported) as a layer,
// compressed on the way in.
func FromTar(ctx context.Context, st *store.Store, r io.Reader, compression string, oci bool) (Built, error) {
	mt, err := mediaType(compression, oci)
	if err != nil {
		return Built{}, err
	}
	return storeStream(ctx, st, compression, mt, func(w io.Writer) error {
		// The bytes are stored as they come, and read as a tar on the way
		// so that something else fails here rather than in a container.
		tr := tar.NewReader(io.TeeReader(r, w))
		for {
			_, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return fmt.Errorf("not a valid tar: %w", err)
			}
			if _, err := io.Copy(io.Discard, tr); err != nil {
				return fmt.Errorf("not a valid tar: %w", err)
			}
		}
		_, err := io.Copy(w, r) // the end-of-archive padding
		return err
	})
}

// storeStream compresses what fill writes into a new blob, hashing the
// uncompressed bytes (the diff ID) and the compressed ones in the same pass.
func storeStream(ctx context.Context, st *store.Store, compression string, mt types.MediaType, fill func(io.Writer) error) (Built, error) {
	bw, err := st.NewBlobWriter()
	if err != nil {
		return Built{}, err
	}
	defer bw.Abort()
	comp, err := compressor(bw, compression)
	if err != nil {
		return Built{}, err
	}
	diff := sha256.New()
	if err := fill(io.MultiWriter(diff, comp)); err != nil {
		return Built{}, err
	}
	if err := comp.Close(); err != nil {
		return Built{}, err
	}
	if err := ctx.Err(); err != nil {
		return Built{}, err
	}
	size := bw.Size()
	diffID := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(diff.Sum(nil))}
	// The store records the diff ID taken from the bytes compressed, so
	// storing an image made of this layer needs no second read of it.
	h, err := bw.CommitLayer(diffID)
	if err != nil {
		return Built{}, err
	}
	return Built{Descriptor: v1.Descriptor{MediaType: mt, Size: size, Digest: h}, DiffID: diffID}, nil
}

func hasContent(e Entry) bool { return e.Mode.IsRegular() && !e.HardLink }

func mediaType(compression string, oci bool) (types.MediaType, error) {
	switch {
	case compression == Gzip && oci:
		return types.OCILayer, nil
	case compression == Gzip:
		return types.DockerLayer, nil
	case compression == Zstd:
		return types.OCILayerZStd, nil // Docker has no zstd media type
	case compression == None && oci:
		return types.OCIUncompressedLayer, nil
	case compression == None:
		return types.DockerUncompressedLayer, nil
	}
	return "", fmt.Errorf("unknown --compression %q: use gzip, zstd or none", compression)
}

// compressor compresses as compression names. Its output depends on the
// files alone (every machine makes the same blob for the same files) and on
// gzip's level, which the layer keys name (keyCodec).
func compressor(w io.Writer, compression string) (io.WriteCloser, error) {
	switch compression {
	case Gzip:
		return compress.NewWriter(w, compress.Gzip)
	case Zstd:
		return compress.NewWriter(w, compress.Zstd)
	}
	return compress.NewWriter(w, compress.None)
}

// cacheKey hashes everything the layer's bytes depend on: the options and,
// per entry, its name, type, mode, size, link and content hash (sums[i]).
// Content, not mtime, decides: a copy of the folder hits the cache too.
func cacheKey(entries []Entry, sums [][]byte, o Options, compression string, mt types.MediaType) string {
	return layerKey("gantry-layer-v3", entries, o, compression, mt, func(b []byte, i int) []byte {
		return append(b, sums[i]...)
	})
}

// statKey is cacheKey with each file's content hash replaced by where it
// is and its stat (size, mtime and ctime in nanoseconds, device, inode; as
// the file-hash cache trusts them): the key of files that have not changed
// since a build, known without reading them. ok is false when some file's
// stat is unknown or does not vouch for its content (Entry.racy): such a
// build is found by content.
func statKey(entries []Entry, o Options, compression string, mt types.MediaType) (key string, ok bool) {
	for _, e := range entries {
		if hasContent(e) && (e.stat.Ino == 0 || e.racy) {
			return "", false
		}
	}
	return layerKey("gantry-layer-stat-v2", entries, o, compression, mt, func(b []byte, i int) []byte {
		e := entries[i]
		if !hasContent(e) {
			return b
		}
		b = append(b, e.Source...)
		b = append(b, 0)
		for _, v := range [...]uint64{uint64(e.stat.Size), uint64(e.stat.Mtime), uint64(e.stat.Ctime), e.stat.Dev, e.stat.Ino} {
			b = strconv.AppendUint(b, v, 10)
			b = append(b, ':')
		}
		return b
	}), true
}

// layerKey is a key of entries under version: each entry's metadata, then
// what identifies its content (appended by content). The entries are
// hashed in ranges of keyRange on all cores, and the key hashes the
// ranges' hashes: an unchanged build of a large tree is found by this key.
func layerKey(version string, entries []Entry, o Options, compression string, mt types.MediaType, content func(b []byte, i int) []byte) string {
	sums := make([][sha256.Size]byte, (len(entries)+keyRange-1)/keyRange)
	parallel.Ranges(len(entries), keyRange, func(start, end int) {
		h := sha256.New()
		var b []byte
		for i := start; i < end; i++ {
			b = entryKey(b[:0], entries[i], o)
			b = content(b, i)
			b = append(b, '\n')
			h.Write(b)
		}
		h.Sum(sums[start/keyRange][:0])
	})
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%d:%d\x00%d\x00%v\n", version, keyCodec(compression), mt, o.UID, o.GID, o.Time.Unix(), o.KeepOwners)
	for _, sum := range sums {
		h.Write(sum[:])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// keyCodec is the compression as the layer keys name it: gzip with its
// level, which decides the blob's bytes, so that a layer cached by a gantry
// with another level is not taken for this one's.
func keyCodec(compression string) string {
	if compression == Gzip {
		return fmt.Sprintf("%s-%d", Gzip, compress.GzipLevel)
	}
	return compression
}

// keyRange is how many entries layerKey hashes together: part of the key.
const keyRange = 1024

// entryKey appends what a layer's key holds of e but its content: name,
// mode (octal), size, link, hard-link flag, then what only some entries
// have; appended, not formatted: one per file.
func entryKey(b []byte, e Entry, o Options) []byte {
	b = append(b, e.Name...)
	b = append(b, 0)
	b = strconv.AppendUint(b, uint64(uint32(e.Mode)), 8)
	b = append(b, 0)
	b = strconv.AppendInt(b, e.Size, 10)
	b = append(b, 0)
	b = append(b, e.Link...)
	b = append(b, 0)
	b = strconv.AppendBool(b, e.HardLink)
	b = append(b, 0)
	if e.rdev != 0 {
		b = append(b, "rdev:"...)
		b = strconv.AppendUint(b, e.rdev, 10)
		b = append(b, 0)
	}
	if len(e.xattrs) > 0 {
		b = append(b, "xattrs:"...)
		b = append(b, xattrKey(e.xattrs)...)
		b = append(b, 0)
	}
	if uid, gid := e.owner(o); o.KeepOwners || e.fixedOwner {
		b = strconv.AppendInt(b, int64(uid), 10)
		b = append(b, ':')
		b = strconv.AppendInt(b, int64(gid), 10)
		b = append(b, 0)
	}
	return b
}

func hashFile(e Entry) ([]byte, error) {
	h := sha256.New()
	if err := copyFile(h, e); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}

func cachePath(st *store.Store, key string) string {
	return filepath.Join(st.CacheDir(store.CacheLayers), key+".json")
}

func lookup(st *store.Store, key string) (Built, bool) {
	raw, err := os.ReadFile(cachePath(st, key))
	if err != nil {
		return Built{}, false
	}
	var b Built
	if json.Unmarshal(raw, &b) != nil || !st.HasBlob(b.Descriptor.Digest) {
		return Built{}, false // pruned since: build it again
	}
	b.Cached = true
	return b, true
}

// remember records key → blob; a failure only costs a rebuild next time.
func remember(st *store.Store, key string, b Built) {
	raw, err := json.Marshal(b)
	if err != nil {
		return
	}
	path := cachePath(st, key)
	if os.MkdirAll(filepath.Dir(path), 0o755) != nil {
		return
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".key-*")
	if err != nil {
		return
	}
	_, werr := f.Write(raw)
	if cerr := f.Close(); werr == nil && cerr == nil {
		os.Rename(f.Name(), path)
	}
	os.Remove(f.Name())
}

// Open returns the stored layer as a v1.Layer.
func Open(st *store.Store, b Built) (v1.Layer, error) {
	return st.Layer(b.Descriptor, b.DiffID)
}

// Signatures describe each entry as the layer holds it (name, type, mode,
// owner, size, link, content hash), from the stat cache: after Build, two
// builds of the same COPY can be compared entry by entry without reading a
// file.
func Signatures(st *store.Store, entries []Entry, o Options) (map[string]string, bool) {
	hashes := openHashCache(st)
	out := make(map[string]string, len(entries))
	for _, e := range entries {
		uid, gid := e.owner(o)
		sig := fmt.Sprintf("%o:%d:%d:%d:%s:%v", uint32(e.Mode), uid, gid, e.Size, e.Link, e.HardLink)
		if len(e.xattrs) > 0 {
			sig += ":" + xattrKey(e.xattrs)
		}
		if hasContent(e) {
			sum, ok := hashes.get(e)
			if !ok {
				return nil, false
			}
			sig += ":" + hex.EncodeToString(sum)
		}
		out[e.Name] = sig
	}
	return out, true
}

// xattrKey is xattrs in one string, sorted by name, for cache keys.
func xattrKey(x map[string]string) string {
	names := make([]string, 0, len(x))
	for k := range x {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, k := range names {
		fmt.Fprintf(&b, "%q=%q;", k, x[k])
	}
	return b.String()
}
