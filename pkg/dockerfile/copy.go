package dockerfile

import (
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/gantry-build/gantry/internal/rawfile"
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
	// --link: the layer is made on nothing, as BuildKit copies onto
	// scratch and merges the result (see copy)
	link bool
}

// copy runs COPY or ADD: sources from the context, another stage or an
// image, Docker's destination rules, --chown by name, --chmod; ADD unpacks
// local archives and downloads URLs.
func (s *stageState) copy(label string, cmd instructions.Command, c copySpec) error {
	b := s.b
	root := b.o.Context
	if c.from != "" {
		var err error
		if root, err = s.fromRoot(c.from, ""); err != nil {
			return err
		}
	}
	tmp, err := os.MkdirTemp(b.st.TempDir(), "copy-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	dest := c.dest
	if !path.IsAbs(dest) {
		dest = path.Join("/", s.workdir(), dest) + trailing(dest)
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
	parentsBased := false // a COPY --parents base was found: the destination is made
	for _, src := range c.srcs {
		switch {
		case c.add && isGitSource(src):
			p, err := GitCheckout(b.ctx, src, tmp, c.keepGitDir)
			if err != nil {
				return fmt.Errorf("ADD %w", err)
			}
			srcs = append(srcs, layer.Add{Src: p})
		case c.add && isURL(src):
			p, err := download(b.ctx, src, tmp, c.checksum)
			if err != nil {
				return err
			}
			if c.unpack != nil && *c.unpack && isArchive(p) {
				archives = append(archives, p)
			} else {
				srcs = append(srcs, layer.Add{Src: p})
			}
		case c.parents:
			adds, based, err := parentsSources(root, src, o)
			if err != nil {
				return err
			}
			srcs = append(srcs, adds...)
			parentsBased = parentsBased || based
		default:
			found, err := sources(root, src, o)
			if err != nil {
				return err
			}
			for _, m := range found {
				switch {
				case c.add && (c.unpack == nil || *c.unpack) && isArchive(m.path):
					archives = append(archives, m.path)
				default:
					srcs = append(srcs, m.add())
				}
			}
		}
	}
	if len(srcs)+len(archives)+len(c.contents) == 0 {
		if !parentsBased {
			// Only wildcards that matched nothing: BuildKit copies
			// nothing and makes no destination.
			s.history(cmd)
			return nil
		}
		// A --parents pattern that matched nothing in a base that
		// exists: BuildKit's copy still makes the destination.
		empty := filepath.Join(tmp, "empty")
		if err := os.Mkdir(empty, 0o755); err != nil {
			return err
		}
		srcs = append(srcs, layer.Add{Src: empty, Dest: "/"})
	}
	for i, hd := range c.contents {
		p := filepath.Join(tmp, fmt.Sprintf("heredoc-%d", i), path.Base(hd.Path))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(hd.Data), 0o644); err != nil {
			return err
		}
		srcs = append(srcs, layer.Add{Src: p})
	}
	lower, err := s.rootDir()
	if err != nil {
		return err
	}
	if c.link {
		// COPY --link: BuildKit copies onto scratch and merges the layer
		// over the image, so the destination is the path as written (no
		// link of the image followed, no folder of the image making it
		// one) and the folders the layer makes are its own (0755, root),
		// replacing at their paths whatever the image has there. "." and
		// an empty destination are the working directory, a folder, as
		// BuildKit's dispatchCopy reads them.
		if len(srcs)+len(archives) > 1 || c.dest == "" || c.dest == "." {
			dest = strings.TrimSuffix(dest, "/") + "/"
		}
	} else {
		// The destination is found in the image as BuildKit finds it:
		// through the image's symlinks, resolved inside the image.
		// Several sources, or a destination that is a directory in the
		// image, make it a directory.
		real, err := inRoot(lower, dest)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(lower, real)
		if err != nil {
			return err
		}
		dest = path.Join("/", filepath.ToSlash(rel)) + trailing(dest)
		if isDir(real) || len(srcs)+len(archives) > 1 {
			dest = strings.TrimSuffix(dest, "/") + "/"
		}
		o.Lower = lower
	}
	if c.chown != "" {
		// USER: (an empty group) is USER, as BuildKit's llb.WithUser reads it.
		spec := c.chown
		if u, g, ok := strings.Cut(spec, ":"); ok && g == "" {
			spec = u
		}
		if c.link && !numericOwner(spec) {
			// The layer is made on nothing: no /etc/passwd to read names in.
			return fmt.Errorf("--chown=%s: user and group names can't be resolved when used with --link, use numeric uid[:gid] instead", c.chown)
		}
		if o.UID, o.GID, err = rootfs.LookupUser(lower, spec, true); err != nil {
			return err
		}
	} else {
		o.KeepOwners = c.from != "" // files from a stage or image keep their owners
	}
	if c.chmod != "" {
		if o.Mode, o.Chmod, err = parseChmod(c.chmod); err != nil {
			return err
		}
	}
	adds := make([]layer.Add, 0, len(srcs))
	for _, src := range srcs {
		d := dest
		if src.Dest != "" { // --parents: the source's path below the context, inside dest
			d = strings.TrimSuffix(dest, "/") + src.Dest
		}
		src.Dest = d
		adds = append(adds, src)
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
		if !ok && len(b.o.CacheFrom) > 0 {
			var err error
			if fp, err = layer.Fingerprint(b.st, entries, o); err != nil {
				return "", err
			}
			ok = true
		}
		if !ok {
			return "", nil
		}
		// An archive is unpacked, not collected: its content is hashed here.
		sums, err := fileDigests(archives)
		if err != nil {
			return "", err
		}
		return s.stepKey(cmd, fp, sums)
	}
	return s.cachedLayer(label, key, fmt.Sprint(cmd), func() (layer.Built, error) {
		if len(archives) > 0 {
			on := lower
			if c.link { // unpacked on nothing too
				on = filepath.Join(tmp, "nothing")
				if err := os.Mkdir(on, 0o755); err != nil {
					return layer.Built{}, err
				}
			}
			return s.archiveLayer(entries, o, archives, dest, on, c.chown != "")
		}
		return s.buildUnpacked(cmd, entries, o)
	})
}

// numericOwner tells whether the --chown spec names its user (and group)
// by number only.
func numericOwner(spec string) bool {
	for _, part := range strings.Split(spec, ":") {
		if _, err := strconv.Atoi(part); err != nil {
			return false
		}
	}
	return true
}

// fileDigests is the sha256 of each file, one line each.
func fileDigests(files []string) (string, error) {
	var out strings.Builder
	for _, p := range files {
		f, err := rawfile.OpenNoFollow(p)
		if err != nil {
			return "", err
		}
		h := sha256.New()
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&out, "archive %x\n", h.Sum(nil))
	}
	return out.String(), nil
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
// A stage must come before this one, as BuildKit dispatches them in order.
func (s *stageState) fromRoot(from string, mountTarget string) (string, error) {
	b := s.b
	var img v1.Image
	if i := stageIndex(b.stages, from); i >= 0 {
		if i > s.index {
			if mountTarget != "" {
				return "", fmt.Errorf("cannot mount from stage %q to %q, stage needs to be defined before current command", from, mountTarget)
			}
			return "", fmt.Errorf("cannot copy from stage %q, it needs to be defined before current stage %q", from, b.stages[s.index].Name)
		}
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

func (s *stageState) dispatchCopy(label string, in *instructions.CopyCommand) error {
	return s.copy(label, in, copySpec{srcs: in.SourcePaths, contents: in.SourceContents, dest: in.DestPath, from: in.From, chown: in.Chown, chmod: in.Chmod,
		excludes: in.ExcludePatterns, parents: in.Parents, link: in.Link})
}

func (s *stageState) dispatchAdd(label string, in *instructions.AddCommand) error {
	return s.copy(label, in, copySpec{srcs: in.SourcePaths, contents: in.SourceContents, dest: in.DestPath, chown: in.Chown, chmod: in.Chmod, add: true,
		excludes: in.ExcludePatterns, checksum: in.Checksum, unpack: in.Unpack, keepGitDir: in.KeepGitDir != nil && *in.KeepGitDir, link: in.Link})
}
