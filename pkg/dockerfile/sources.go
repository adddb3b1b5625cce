package dockerfile

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
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
	"strconv"
	"strings"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"

	"github.com/gantry-build/gantry/internal/compress"
	"github.com/gantry-build/gantry/internal/rawfile"
	"github.com/gantry-build/gantry/pkg/layer"
	"github.com/gantry-build/gantry/pkg/rootfs"
)

// GitCheckout clones a git source, REPO[#REF[:SUBDIR]] as BuildKit reads
// ADD's, into dir with the host's git, and returns the folder whose
// contents ADD copies (or kaniko's executor builds from): the checkout (or
// its SUBDIR), without .git unless keepGitDir. REF may be a branch, a tag,
// a full ref name or a commit.
func GitCheckout(ctx context.Context, src, dir string, keepGitDir bool) (string, error) {
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
		return "", fmt.Errorf("%s: git is not installed on this machine", src)
	}
	want := ref
	if want == "" {
		want = "HEAD"
	}
	if err := git("init", "-q"); err != nil {
		return "", fmt.Errorf("%s: %w", src, err)
	}
	// A shallow fetch where the server offers it (not over dumb HTTP).
	if err := git("fetch", "-q", "--depth", "1", repo, want); err != nil {
		if err := git("fetch", "-q", repo, want); err != nil {
			return "", fmt.Errorf("%s: %w", src, err)
		}
	}
	if err := git("checkout", "-q", "--detach", "FETCH_HEAD"); err != nil {
		return "", fmt.Errorf("%s: %w", src, err)
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
		return "", fmt.Errorf("%s: %w", src, err)
	}
	if fi, err := os.Stat(p); err != nil || !fi.IsDir() {
		return "", fmt.Errorf("%s: %s is not a folder of the repository", src, subdir)
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
func download(ctx context.Context, raw, dir, checksum string) (string, error) {
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
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
	if err != nil {
		return "", fmt.Errorf("ADD %s: %w", raw, err)
	}
	resp, err := downloadClient.Do(req)
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

// downloadClient fetches ADD URLs: a server that accepts the connection but
// never answers fails the step instead of hanging the build (the body may
// take as long as it needs; the build's context ends it on a signal).
var downloadClient = &http.Client{Transport: &http.Transport{
	Proxy:                 http.ProxyFromEnvironment,
	TLSHandshakeTimeout:   30 * time.Second,
	ResponseHeaderTimeout: 60 * time.Second,
}}

// isArchive tells a local tar (plain, gzip, bzip2, xz) by its content.
// Its path was resolved inside the context (no link left): a link found
// there now is not followed, and a folder or FIFO reads as no tar.
func isArchive(p string) bool {
	f, err := rawfile.OpenNoFollow(p)
	if err != nil {
		return false
	}
	defer f.Close()
	r, err := decompress(f)
	if err != nil {
		return false
	}
	_, err = tar.NewReader(r).Next()
	return err == nil
}

// decompress reads a tar that may be gzip, bzip2, xz or zstd compressed.
func decompress(r io.Reader) (io.Reader, error) {
	rc, _, err := compress.NewReader(r)
	return rc, err
}

// archiveLayer writes one layer holding the plain sources and the contents
// of each archive unpacked at dest (see untarView.untar).
func (s *stageState) archiveLayer(entries []layer.Entry, o layer.Options, archives []string, dest, lower string, chown bool) (layer.Built, error) {
	b := s.b
	base := strings.TrimPrefix(path.Clean(dest), "/")
	return layer.FromWriter(b.ctx, b.st, b.o.Compression, s.oci(), func(w io.Writer) error {
		tw := tar.NewWriter(w)
		if err := layer.WriteEntries(tw, entries, o); err != nil {
			return err
		}
		view := newUntarView(lower, base)
		view.record(entries)
		// The destination directory and its parents are made where the
		// image lacks them (0755, root or --chown); those it has stay as
		// they are. dest was resolved inside the image: no link on the way.
		parts := strings.Split(base, "/")
		for i := range parts {
			p := strings.Join(parts[:i+1], "/")
			if p == "" {
				continue
			}
			if _, err := os.Lstat(filepath.Join(lower, p)); err == nil {
				continue
			}
			hdr := rootfs.Meta{Name: p, Mode: fs.ModeDir | 0o755, UID: o.UID, GID: o.GID, ModTime: b.o.Created}.Header()
			view.put(p, hdr)
			if err := tw.WriteHeader(hdr); err != nil {
				return err
			}
		}
		for _, a := range archives {
			if err := view.untar(tw, a, chown, o.UID, o.GID, b.o.Created); err != nil {
				return fmt.Errorf("ADD %s: %w", filepath.Base(a), err)
			}
		}
		return tw.Close()
	})
}
