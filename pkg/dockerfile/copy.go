package dockerfile

import (
	"archive/tar"
	"bufio"
	"compress/bzip2"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
	kgzip "github.com/klauspost/compress/gzip"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/ulikunitz/xz"

	"github.com/gantry-build/gantry/pkg/layer"
	"github.com/gantry-build/gantry/pkg/rootfs"
)

type copySpec struct {
	srcs     []string
	contents []instructions.SourceContent // heredoc sources
	dest     string
	from     string
	chown    string
	chmod    string
	add      bool
	excludes []string // --exclude, relative to each source
	parents  bool     // COPY --parents: keep the source's path below the context
	checksum string   // ADD --checksum of a URL's content
	unpack   *bool    // ADD --unpack: nil is Docker's default (local archives yes, URLs no)
	// ADD --keep-git-dir: a git source keeps its .git folder
	keepGitDir bool
}

// copy runs COPY or ADD: sources from the context, another stage or an
// image, Docker's destination rules, --chown by name, --chmod; ADD unpacks
// local archives and downloads URLs.
func (s *stageState) copy(label string, cmd instructions.Command, c copySpec) error {
	b := s.b
	root := b.o.Context
	if c.from != "" {
		var err error
		if root, err = s.fromRoot(c.from); err != nil {
			return err
		}
	}
	tmp, err := os.MkdirTemp(filepath.Join(b.st.Root(), "tmp"), "copy-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	dest := c.dest
	if !path.IsAbs(dest) {
		dest = path.Join("/", s.cf.Config.WorkingDir, dest) + trailing(dest)
	}
	// What COPY sees of the context is what its .dockerignore leaves; a
	// stage's or an image's files are all there.
	o := layer.Options{Time: b.o.Created, Excludes: c.excludes, ContextRoot: root}
	if o.Ignore, err = b.ignoreOf(c.from); err != nil {
		return err
	}
	if c.checksum != "" && (len(c.srcs) != 1 || !isURL(c.srcs[0]) || isGitSource(c.srcs[0])) {
		return fmt.Errorf("ADD --checksum applies to one URL source only")
	}
	var srcs []layer.Add
	var archives []string
	for _, src := range c.srcs {
		switch {
		case c.add && isGitSource(src):
			p, err := gitCheckout(b.ctx, src, tmp, c.keepGitDir)
			if err != nil {
				return err
			}
			srcs = append(srcs, layer.Add{Src: p})
		case c.add && isURL(src):
			p, err := download(src, tmp, c.checksum)
			if err != nil {
				return err
			}
			if c.unpack != nil && *c.unpack && isArchive(p) {
				archives = append(archives, p)
			} else {
				srcs = append(srcs, layer.Add{Src: p})
			}
		default:
			matches, err := glob(root, src, o)
			if err != nil {
				return err
			}
			for _, m := range matches {
				switch {
				case c.add && (c.unpack == nil || *c.unpack) && isArchive(m):
					archives = append(archives, m)
				case c.parents:
					srcs = append(srcs, layer.Add{Src: m, Dest: parentsPath(root, src, m)})
				default:
					srcs = append(srcs, layer.Add{Src: m})
				}
			}
		}
	}
	for i, hd := range c.contents {
		p := filepath.Join(tmp, fmt.Sprintf("heredoc-%d", i), path.Base(hd.Path))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(hd.Data), 0o644); err != nil {
			return err
		}
		srcs = append(srcs, layer.Add{Src: p})
	}
	// Several sources, or a destination that is a directory in the image,
	// make the destination a directory.
	lower, err := s.rootDir()
	if err != nil {
		return err
	}
	if fi, err := os.Stat(filepath.Join(lower, dest)); (err == nil && fi.IsDir()) || len(srcs)+len(archives) > 1 {
		dest = strings.TrimSuffix(dest, "/") + "/"
	}
	if c.chown != "" {
		if o.UID, o.GID, err = rootfs.LookupUser(lower, c.chown, true); err != nil {
			return err
		}
	} else {
		o.KeepOwners = c.from != "" // files from a stage or image keep their owners
	}
	if c.chmod != "" {
		m, err := strconv.ParseUint(c.chmod, 8, 32)
		if err != nil {
			return fmt.Errorf("invalid --chmod %q", c.chmod)
		}
		mode := fs.FileMode(m & 0o777)
		o.Mode = &mode
	}
	adds := make([]layer.Add, 0, len(srcs))
	for _, src := range srcs {
		d := dest
		if src.Dest != "" { // --parents: the source's path below the context, inside dest
			d = strings.TrimSuffix(dest, "/") + src.Dest
		}
		adds = append(adds, layer.Add{Src: src.Src, Dest: d})
	}
	entries, err := layer.Collect(adds, o)
	if err != nil {
		return err
	}
	// Files never hashed cannot match a cached step: they are hashed while
	// the layer is written, and the key follows from those hashes.
	// With a registry cache to consult, hashing first can save the build.
	key := func() (string, error) {
		fp, ok := layer.KnownFingerprint(b.st, entries, o)
		if !ok && b.o.CacheFrom != "" {
			var err error
			if fp, err = layer.Fingerprint(b.st, entries, o); err != nil {
				return "", err
			}
			ok = true
		}
		if !ok {
			return "", nil
		}
		return s.stepKey(cmd, fp, strings.Join(archives, "\x00"))
	}
	return s.cachedLayer(label, key, fmt.Sprint(cmd), func() (layer.Built, error) {
		if len(archives) > 0 {
			return s.archiveLayer(entries, o, archives, dest, lower)
		}
		return s.buildUnpacked(cmd, entries, o)
	})
}

func trailing(p string) string {
	if strings.HasSuffix(p, "/") {
		return "/"
	}
	return ""
}

func (s *stageState) oci() bool {
	mt, err := s.img.MediaType()
	return err == nil && mt == types.OCIManifestSchema1
}

// fromRoot is the root filesystem COPY --from reads: a stage's, or an image's.
func (s *stageState) fromRoot(from string) (string, error) {
	b := s.b
	var img v1.Image
	if i := stageIndex(b.stages, from); i >= 0 {
		st, err := b.stage(i)
		if err != nil {
			return "", err
		}
		if img, err = st.image(); err != nil {
			return "", err
		}
	} else if dir, ok := b.o.Contexts[from]; ok && !strings.HasPrefix(dir, "docker-image://") {
		return dir, nil // a named folder context, read as it is
	} else {
		var err error
		p := b.platform
		if img, err = b.base(from, &p); err != nil {
			return "", fmt.Errorf("--from=%s: %w", from, err)
		}
	}
	return b.cache.Get(img)
}

// rootDir is the stage's root filesystem so far, unpacked (cached).
func (s *stageState) rootDir() (string, error) { return s.b.cache.Get(s.img) }

// glob expands src inside root; a pattern that matches nothing fails, as in
// Docker, and so does a source the context's .dockerignore leaves out.
// Paths never leave root.
func glob(root, src string, o layer.Options) ([]string, error) {
	clean := path.Clean("/" + src)
	full := filepath.Join(root, clean)
	if !strings.ContainsAny(src, "*?[") {
		if _, err := os.Lstat(full); err != nil || layer.Excluded(o, full) {
			return nil, fmt.Errorf("%s: not found in the build context", src)
		}
		return []string{full}, nil
	}
	matches, err := filepath.Glob(full)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src, err)
	}
	kept := matches[:0]
	for _, m := range matches {
		if !layer.Excluded(o, m) {
			kept = append(kept, m)
		}
	}
	if len(kept) == 0 {
		return nil, fmt.Errorf("%s: no source files were specified (nothing matches)", src)
	}
	sort.Strings(kept)
	return kept, nil
}

// parentsPath is where COPY --parents puts source m, matched by pattern
// src, below the destination: its path in the context (or below a "/./"
// in src, which marks where the kept part starts), a directory for a file.
func parentsPath(root, src, m string) string {
	base := root
	if before, _, ok := strings.Cut(src, "/./"); ok {
		base = filepath.Join(root, path.Clean("/"+before))
	}
	rel, err := filepath.Rel(base, m)
	if err != nil || strings.HasPrefix(rel, "..") {
		rel = filepath.Base(m)
	}
	rel = filepath.ToSlash(rel)
	if fi, err := os.Stat(m); err == nil && fi.IsDir() {
		return "/" + rel
	}
	if dir := path.Dir(rel); dir != "." {
		return "/" + dir + "/"
	}
	return "/"
}

// gitCheckout clones an ADD git source, REPO[#REF[:SUBDIR]] as BuildKit
// reads it, into dir with the host's git, and returns the folder whose
// contents ADD copies: the checkout (or its SUBDIR), without .git unless
// --keep-git-dir.
func gitCheckout(ctx context.Context, src, dir string, keepGitDir bool) (string, error) {
	repo, frag, _ := strings.Cut(src, "#")
	ref, subdir, _ := strings.Cut(frag, ":")
	out, err := os.MkdirTemp(dir, "git-*")
	if err != nil {
		return "", err
	}
	git := func(args ...string) error {
		cmd := exec.CommandContext(ctx, "git", append([]string{"-C", out}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("git %s: %v: %s", args[0], err, strings.TrimSpace(string(b)))
		}
		return nil
	}
	if _, err := exec.LookPath("git"); err != nil {
		return "", fmt.Errorf("ADD %s: git is not installed on this machine", src)
	}
	want := ref
	if want == "" {
		want = "HEAD"
	}
	if err := git("init", "-q"); err != nil {
		return "", fmt.Errorf("ADD %s: %w", src, err)
	}
	// A shallow fetch where the server offers it (not over dumb HTTP).
	if err := git("fetch", "-q", "--depth", "1", repo, want); err != nil {
		if err := git("fetch", "-q", repo, want); err != nil {
			return "", fmt.Errorf("ADD %s: %w", src, err)
		}
	}
	if err := git("checkout", "-q", "--detach", "FETCH_HEAD"); err != nil {
		return "", fmt.Errorf("ADD %s: %w", src, err)
	}
	if !keepGitDir {
		if err := os.RemoveAll(filepath.Join(out, ".git")); err != nil {
			return "", err
		}
	}
	if subdir == "" {
		return out, nil
	}
	p, err := securejoin.SecureJoin(out, subdir)
	if err != nil {
		return "", fmt.Errorf("ADD %s: %w", src, err)
	}
	if fi, err := os.Stat(p); err != nil || !fi.IsDir() {
		return "", fmt.Errorf("ADD %s: %s is not a folder of the repository", src, subdir)
	}
	return p, nil
}

// isGitSource tells ADD's git sources (cloned by BuildKit) from plain URLs.
func isGitSource(s string) bool {
	if strings.HasPrefix(s, "git@") || strings.HasPrefix(s, "git://") || strings.HasPrefix(s, "ssh://") {
		return true
	}
	if !isURL(s) {
		return false
	}
	u, err := url.Parse(s)
	return err == nil && (strings.HasSuffix(u.Path, ".git") || (u.Fragment != "" && strings.Contains(u.Path, ".git")))
}

func isURL(s string) bool { return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://") }

// download fetches an ADD URL into dir under the URL's last path element,
// mode 0600, as Docker does. With checksum (ADD --checksum=sha256:…), the
// content must have that digest.
func download(raw, dir, checksum string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	var sum hash.Hash
	var wantSum string
	if checksum != "" {
		algo, hexSum, _ := strings.Cut(checksum, ":")
		switch algo {
		case "sha256":
			sum = sha256.New()
		case "sha384":
			sum = sha512.New384()
		case "sha512":
			sum = sha512.New()
		default:
			return "", fmt.Errorf("ADD --checksum=%s: use sha256:HEX (or sha384, sha512)", checksum)
		}
		wantSum = strings.ToLower(hexSum)
	}
	name := path.Base(u.Path)
	if name == "/" || name == "." || name == "" {
		name = "download"
	}
	resp, err := http.Get(raw)
	if err != nil {
		return "", fmt.Errorf("ADD %s: %w", raw, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("ADD %s: %s", raw, resp.Status)
	}
	p := filepath.Join(dir, "url-"+strconv.Itoa(len(raw)), name)
	os.MkdirAll(filepath.Dir(p), 0o755)
	f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return "", err
	}
	var w io.Writer = f
	if sum != nil {
		w = io.MultiWriter(f, sum)
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		f.Close()
		return "", fmt.Errorf("ADD %s: %w", raw, err)
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	if sum != nil {
		if got := hex.EncodeToString(sum.Sum(nil)); got != wantSum {
			return "", fmt.Errorf("ADD %s: content is %s:%s, but --checksum says %s", raw, strings.SplitN(checksum, ":", 2)[0], got, checksum)
		}
	}
	return p, nil
}

// isArchive tells a local tar (plain, gzip, bzip2, xz) by its content.
func isArchive(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return false
	}
	r, err := decompress(f)
	if err != nil {
		return false
	}
	_, err = tar.NewReader(r).Next()
	return err == nil
}

func decompress(r io.Reader) (io.Reader, error) {
	br := bufio.NewReader(r)
	head, _ := br.Peek(6)
	switch {
	case len(head) >= 2 && head[0] == 0x1f && head[1] == 0x8b:
		return kgzip.NewReader(br)
	case len(head) >= 3 && string(head[:3]) == "BZh":
		return bzip2.NewReader(br), nil
	case len(head) >= 6 && string(head) == "\xfd7zXZ\x00":
		return xz.NewReader(br)
	}
	return br, nil
}

// archiveLayer writes one layer holding the plain sources and the contents
// of each archive unpacked at dest, entries as the archive has them (owners
// included), unless --chown.
func (s *stageState) archiveLayer(entries []layer.Entry, o layer.Options, archives []string, dest, lower string) (layer.Built, error) {
	b := s.b
	base := strings.TrimPrefix(path.Clean(dest), "/")
	return layer.FromWriter(b.ctx, b.st, b.o.Compression, s.oci(), func(w io.Writer) error {
		tw := tar.NewWriter(w)
		if err := layer.WriteEntries(tw, entries, o); err != nil {
			return err
		}
		// The destination directory (and missing parents) belong to root,
		// or --chown.
		parts := strings.Split(base, "/")
		for i := range parts {
			p := strings.Join(parts[:i+1], "/")
			if p == "" {
				continue
			}
			if _, err := os.Stat(filepath.Join(lower, p)); err == nil && i < len(parts)-1 {
				continue
			}
			hdr := &tar.Header{Name: p + "/", Typeflag: tar.TypeDir, Mode: 0o755, Uid: o.UID, Gid: o.GID, ModTime: b.o.Created}
			if err := tw.WriteHeader(hdr); err != nil {
				return err
			}
		}
		for _, a := range archives {
			f, err := os.Open(a)
			if err != nil {
				return err
			}
			r, err := decompress(f)
			if err != nil {
				f.Close()
				return err
			}
			tr := tar.NewReader(r)
			for {
				h, err := tr.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					f.Close()
					return fmt.Errorf("ADD %s: %w", filepath.Base(a), err)
				}
				if path.Clean("/"+h.Name) == "/" {
					// The archive's own root is the destination, which
					// keeps the owner and mode it gets as a parent.
					continue
				}
				h.Name = strings.TrimPrefix(path.Join(base, path.Clean("/"+h.Name)), "/")
				if h.Typeflag == tar.TypeDir {
					h.Name += "/"
				}
				if h.Typeflag == tar.TypeLink {
					h.Linkname = strings.TrimPrefix(path.Join(base, path.Clean("/"+h.Linkname)), "/")
				}
				// Entries keep the archive's owners, as BuildKit does,
				// unless --chown says otherwise.
				if o.UID != 0 || o.GID != 0 {
					h.Uid, h.Gid = o.UID, o.GID
				}
				h.Uname, h.Gname = "", ""
				if err := tw.WriteHeader(h); err != nil {
					f.Close()
					return err
				}
				if _, err := io.Copy(tw, tr); err != nil {
					f.Close()
					return err
				}
			}
			f.Close()
		}
		return tw.Close()
	})
}

// buildUnpacked builds a COPY layer and the root filesystem the next step
// will need. When this COPY ran before on the same parent and its tree is
// still cached, the new tree starts from that one and only the entries that
// differ are written (a changed source file costs one file, not the whole
// folder); otherwise the layer's tar stream is applied while it is
// compressed, so nothing is decompressed afterwards.
func (s *stageState) buildUnpacked(cmd instructions.Command, entries []layer.Entry, o layer.Options) (layer.Built, error) {
	b := s.b
	rec, recPath := s.copyRecord(cmd, o)
	if rec != nil {
		built, err := layer.Build(b.ctx, b.st, entries, o, b.o.Compression, s.oci())
		if err != nil || built.Cached {
			return built, err
		}
		if s.revise(rec, entries, o, built) == nil {
			s.saveCopyRecord(recPath, entries, o, built)
			return built, nil
		}
		return built, nil // the tree is unpacked later, when needed
	}
	pending, err := b.cache.Extend(s.img)
	if err != nil {
		return layer.Build(b.ctx, b.st, entries, o, b.o.Compression, s.oci())
	}
	pr, pw := io.Pipe()
	applied := make(chan error, 1)
	go func() {
		err := pending.Apply(pr)
		io.Copy(io.Discard, pr) // let the writer finish even if Apply stopped early
		applied <- err
	}()
	built, err := layer.BuildTee(b.ctx, b.st, entries, o, b.o.Compression, s.oci(), pw)
	pw.CloseWithError(err)
	applyErr := <-applied
	if err != nil || applyErr != nil || built.Cached {
		pending.Abort()
		return built, err
	}
	if pending.Commit(built.DiffID) == nil {
		s.saveCopyRecord(recPath, entries, o, built)
	}
	return built, nil
}

// copyRecord is what the last build of this COPY on this parent left: the
// chain ID of its tree and each entry's signature.
type copyRecord struct {
	Chain string            `json:"chain"`
	Sigs  map[string]string `json:"sigs"`
}

func (s *stageState) copyRecord(cmd instructions.Command, o layer.Options) (*copyRecord, string) {
	parent, err := s.img.Digest()
	if err != nil {
		return nil, ""
	}
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s\n%s\n%d:%d:%v", parent, cmd, o.UID, o.GID, o.KeepOwners)))
	p := filepath.Join(s.b.st.Root(), "cache", "copy-trees", hex.EncodeToString(sum[:]))
	raw, err := os.ReadFile(p)
	if err != nil {
		return nil, p
	}
	var rec copyRecord
	if json.Unmarshal(raw, &rec) != nil {
		return nil, p
	}
	return &rec, p
}

func (s *stageState) saveCopyRecord(p string, entries []layer.Entry, o layer.Options, built layer.Built) {
	if p == "" {
		return
	}
	sigs, ok := layer.Signatures(s.b.st, entries, o)
	if !ok {
		return
	}
	chain, err := s.b.cache.ChainAfter(s.img, built.DiffID)
	if err != nil {
		return
	}
	raw, err := json.Marshal(copyRecord{Chain: chain, Sigs: sigs})
	if err != nil || os.MkdirAll(filepath.Dir(p), 0o755) != nil {
		return
	}
	os.WriteFile(p, raw, 0o644)
}

// revise makes the tree of the new layer from the earlier version's tree:
// entries gone since are removed (and what the parent had there comes
// back), entries that differ are applied; hard links always are.
func (s *stageState) revise(rec *copyRecord, entries []layer.Entry, o layer.Options, built layer.Built) error {
	b := s.b
	sigs, ok := layer.Signatures(b.st, entries, o)
	if !ok {
		return fmt.Errorf("no signatures")
	}
	pending, parentDir, ok, err := b.cache.Revise(s.img, rec.Chain)
	if err != nil || !ok {
		return fmt.Errorf("no earlier tree")
	}
	var gone []string
	for name := range rec.Sigs {
		if _, ok := sigs[name]; !ok {
			gone = append(gone, name)
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(gone)))
	for _, name := range gone {
		p := filepath.Join(pending.Dir(), name)
		if err := os.RemoveAll(p); err != nil {
			pending.Abort()
			return err
		}
		if _, err := os.Lstat(filepath.Join(parentDir, name)); err == nil {
			if out, err := exec.Command("cp", "-al", filepath.Join(parentDir, name), p).CombinedOutput(); err != nil {
				pending.Abort()
				return fmt.Errorf("cp -al: %v %s", err, out)
			}
		}
	}
	var changed []layer.Entry
	for _, e := range entries {
		if e.HardLink || rec.Sigs[e.Name] != sigs[e.Name] {
			changed = append(changed, e)
		}
	}
	pr, pw := io.Pipe()
	go func() {
		tw := tar.NewWriter(pw)
		err := layer.WriteEntries(tw, changed, o)
		if err == nil {
			err = tw.Close()
		}
		pw.CloseWithError(err)
	}()
	err = pending.Apply(pr)
	io.Copy(io.Discard, pr)
	if err != nil {
		pending.Abort()
		return err
	}
	return pending.Commit(built.DiffID)
}

// cachedLayer appends the layer make builds, or the cached result of an
// identical earlier step.
func (s *stageState) cachedLayer(label string, keyOf func() (string, error), createdBy string, make func() (layer.Built, error)) error {
	b := s.b
	key, err := keyOf()
	if err != nil {
		return err
	}
	if !b.o.NoCache && key != "" {
		if img, ok := b.lookupStep(key); ok {
			b.o.Progress.Printf("%s: CACHED", label)
			return s.adopt(img)
		}
		if img, ok := b.remoteStep(key); ok {
			b.o.Progress.Printf("%s: CACHED (from %s)", label, b.o.CacheFrom)
			return s.adopt(img)
		}
	}
	start := time.Now()
	built, err := make()
	if err != nil {
		return err
	}
	defer func() { b.o.Progress.Printf("%s: DONE %.1fs", label, time.Since(start).Seconds()) }()
	l, err := layer.Open(b.st, built)
	if err != nil {
		return err
	}
	withConfig, err := s.image()
	if err != nil {
		return err
	}
	img, err := mutate.Append(withConfig, mutate.Addendum{Layer: l, MediaType: built.Descriptor.MediaType,
		History: v1.History{Created: v1.Time{Time: b.o.Created}, CreatedBy: createdBy, Comment: "buildkit.dockerfile.v0"}})
	if err != nil {
		return err
	}
	if key == "" {
		// The key could not be known before; it can now (a COPY whose files
		// were hashed while the layer was written). The key is of the step's
		// start, so it is taken before adopting the result.
		if key, err = keyOf(); err != nil {
			return err
		}
	}
	if key != "" {
		if err := b.saveStep(key, img); err != nil {
			return err
		}
	}
	return s.adopt(img)
}

func fixedKey(key string, err error) func() (string, error) {
	return func() (string, error) { return key, err }
}

func (s *stageState) adopt(img v1.Image) error {
	cf, err := img.ConfigFile()
	if err != nil {
		return err
	}
	s.img, s.cf = img, cf.DeepCopy()
	return nil
}

// stepKey is the cache key of a step: what it starts from (the image so
// far, config included), the instruction, the build args in scope, the
// platform and the content it reads.
func (s *stageState) stepKey(cmd instructions.Command, extra ...string) (string, error) {
	img, err := s.image()
	if err != nil {
		return "", err
	}
	parent, err := img.Digest()
	if err != nil {
		return "", err
	}
	h := sha256.New()
	fmt.Fprintf(h, "gantry-step-v1\n%s\n%s\n%s\n", parent, platformKey(s.b.platform), cmd)
	keys := make([]string, 0, len(s.args))
	for k := range s.args {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(h, "arg %s=%s\n", k, s.args[k])
	}
	for _, e := range extra {
		fmt.Fprintf(h, "%s\n", e)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func platformKey(p v1.Platform) string { return p.OS + "/" + p.Architecture + "/" + p.Variant }

// ensureDir makes WORKDIR's directory when the image lacks it, in a layer
// of its own, as BuildKit does.
func (s *stageState) ensureDir(dir string, cmd instructions.Command) error {
	root, err := s.rootDir()
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(root, dir)); err == nil {
		s.history(cmd)
		return nil
	}
	return s.cachedLayer(fmt.Sprint(cmd), fixedKey(s.stepKey(cmd)), fmt.Sprint(cmd), func() (layer.Built, error) {
		return layer.FromWriter(s.b.ctx, s.b.st, s.b.o.Compression, s.oci(), func(w io.Writer) error {
			tw := tar.NewWriter(w)
			parts := strings.Split(strings.Trim(dir, "/"), "/")
			for i := range parts {
				p := strings.Join(parts[:i+1], "/")
				if _, err := os.Stat(filepath.Join(root, p)); err == nil && i < len(parts)-1 {
					continue
				}
				if err := tw.WriteHeader(&tar.Header{Name: p + "/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: s.b.o.Created}); err != nil {
					return err
				}
			}
			return tw.Close()
		})
	})
}
