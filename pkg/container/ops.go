package container

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/gantry-build/gantry/pkg/cgroup"
	"github.com/gantry-build/gantry/pkg/config"
	"github.com/gantry-build/gantry/pkg/layer"
	"github.com/gantry-build/gantry/pkg/platform"
	"github.com/gantry-build/gantry/pkg/rootfs"
	"github.com/gantry-build/gantry/pkg/sandbox"
	"github.com/gantry-build/gantry/pkg/userns"
)

// RunOptions are one command's settings, for that run only.
type RunOptions struct {
	Args    []string // default: the config's entrypoint and cmd
	Env     []string // K=V, over the config's
	Workdir string
	User    string
	Volumes []string // HOST:CTR[:ro]
	Network string
	Limits  cgroup.Limits // --memory, --pids-limit …: the command's cgroup
	Stdin   io.Reader
	Stdout  io.Writer
	Stderr  io.Writer
	// TTY gives the command a pseudo-terminal of its own (docker run -t),
	// of size Size, resized to each size on Resize: see sandbox.Spec.
	TTY    bool
	Size   sandbox.Winsize
	Resize <-chan sandbox.Winsize
}

// Run runs a command in the container; its changes stay in the container.
func (cs *Containers) Run(ctx context.Context, c *Container, o RunOptions) error {
	unlock, err := c.Lock()
	if err != nil {
		return err
	}
	defer unlock()
	done, err := cs.st.Writing() // prune waits: it would remove the unpacked base under the run
	if err != nil {
		return err
	}
	defer done()
	lower, err := cs.Lower(ctx, c)
	if err != nil {
		return err
	}
	if _, err := sandbox.CanExec(platform.OfConfig(c.Config)); err != nil && c.Config.Architecture != "" {
		return err
	}
	cfg := c.Config.Config
	args := o.Args
	if len(args) == 0 {
		args = append(append([]string{}, cfg.Entrypoint...), cfg.Cmd...)
	}
	if len(args) == 0 {
		return fmt.Errorf("no command: give one after --, or set --cmd with gantry config %s", c.Name)
	}
	env := append([]string{}, cfg.Env...)
	for _, kv := range o.Env {
		k, v, _ := strings.Cut(kv, "=")
		env = config.SetEnv(env, k, v)
	}
	if o.TTY && !config.HasEnv(env, "TERM") {
		env = append(env, "TERM=xterm") // as Docker's daemon sets it for -t
	}
	user := cfg.User
	if o.User != "" {
		user = o.User
	}
	// The process RUN would start, as docker run starts it; setgroups is
	// denied where only the caller's id is mapped.
	proc, err := rootfs.ProcessFor(lower, user, env, config.DefaultPath, !userns.Rootless())
	if err != nil {
		return err
	}
	dir := cfg.WorkingDir
	if o.Workdir != "" {
		dir = o.Workdir
	}
	var mounts []sandbox.Mount
	for _, v := range o.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) < 2 || !filepath.IsAbs(parts[1]) {
			return fmt.Errorf("invalid --volume %q: use HOST:CONTAINER[:ro], the container path absolute", v)
		}
		src, err := filepath.Abs(parts[0])
		if err != nil {
			return err
		}
		mounts = append(mounts, sandbox.Mount{Type: "bind", Source: src, Target: parts[1], ReadOnly: len(parts) > 2 && parts[2] == "ro"})
	}
	stdout, stderr := o.Stdout, o.Stderr
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
	}
	_, err = sandbox.Run(ctx, sandbox.Spec{Lower: lower, Upper: c.Upper(), Args: args, Env: proc.Env, Dir: dir, UID: proc.UID, GID: proc.GID, Groups: proc.Groups,
		Network: o.Network, Mounts: mounts, Limits: o.Limits, Stdin: o.Stdin, Persistent: true,
		TTY: o.TTY, Size: o.Size, Resize: o.Resize}, stdout, stderr)
	return err
}

// cleanPath refuses container paths that climb out of the root.
func cleanPath(p string) (string, error) {
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			return "", fmt.Errorf("%s: a container path may not go above its root", p)
		}
	}
	return path.Clean("/" + p), nil
}

// CopyIn copies the host file or folder src to dest in the container.
func (cs *Containers) CopyIn(ctx context.Context, c *Container, src, dest string) error {
	unlock, err := c.Lock()
	if err != nil {
		return err
	}
	defer unlock()
	lower, err := cs.Lower(ctx, c)
	if err != nil {
		return err
	}
	clean, err := cleanPath(dest)
	if err != nil {
		return err
	}
	if strings.HasSuffix(dest, "/") || isDir(cs.view(lower, c, clean)) {
		clean = path.Join(clean, filepath.Base(src))
	}
	if _, err := os.Lstat(src); err != nil {
		return err
	}
	// Parents come up from the image with their own mode, owner and time,
	// as overlayfs would copy them up: they are not changes.
	if err := copyUpParents(lower, c.Upper(), path.Dir(clean)); err != nil {
		return err
	}
	target, err := securejoin.SecureJoin(c.Upper(), clean)
	if err != nil {
		return err
	}
	os.RemoveAll(target)
	if out, err := exec.Command("cp", "-a", "--no-preserve=ownership", src, target).CombinedOutput(); err != nil {
		return fmt.Errorf("cp: %v: %s", err, out)
	}
	return nil
}

// CopyOut copies src from the container to the host path dest.
func (cs *Containers) CopyOut(ctx context.Context, c *Container, src, dest string) error {
	lower, err := cs.Lower(ctx, c)
	if err != nil {
		return err
	}
	clean, err := cleanPath(src)
	if err != nil {
		return err
	}
	p := cs.view(lower, c, clean)
	if p == "" {
		return fmt.Errorf("%s:%s: no such file in the container", c.Name, src)
	}
	if out, err := exec.Command("cp", "-a", p, dest).CombinedOutput(); err != nil {
		return fmt.Errorf("cp: %v: %s", err, out)
	}
	return nil
}

// view finds where clean is in the container as its commands see it: in
// the upper layer, else in the image, unless deleted or hidden by an opaque
// directory; "" if nowhere.
func (cs *Containers) view(lower string, c *Container, clean string) string {
	parts := strings.Split(strings.TrimPrefix(clean, "/"), "/")
	for i := range parts {
		p := filepath.Join(c.Upper(), filepath.Join(parts[:i+1]...))
		fi, err := os.Lstat(p)
		if err == nil && isWhiteout(fi) {
			return "" // deleted in the container
		}
	}
	if up, err := securejoin.SecureJoin(c.Upper(), clean); err == nil {
		if _, err := os.Lstat(up); err == nil {
			return up
		}
	}
	low, err := securejoin.SecureJoin(lower, clean)
	if err != nil {
		return ""
	}
	if _, err := os.Lstat(low); err != nil {
		return ""
	}
	return low
}

func isDir(p string) bool {
	if p == "" {
		return false
	}
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

func copyUpParents(lower, upper, dir string) error {
	parts := strings.Split(strings.Trim(dir, "/"), "/")
	for i := range parts {
		if parts[i] == "" {
			continue
		}
		rel := filepath.Join(parts[:i+1]...)
		up := filepath.Join(upper, rel)
		if _, err := os.Lstat(up); err == nil {
			continue
		}
		fi, err := os.Stat(filepath.Join(lower, rel))
		mode := os.FileMode(0o755)
		if err == nil {
			mode = fi.Mode().Perm()
		}
		if err := os.Mkdir(up, mode); err != nil {
			return err
		}
		if err == nil {
			chownLike(up, fi)
			os.Chtimes(up, fi.ModTime(), fi.ModTime())
		}
	}
	return nil
}

// CommitOptions describe gantry commit.
type CommitOptions struct {
	Changes     []string // --change instructions
	Message     string
	Author      string
	Compression string
}

// Commit makes an image: the base's layers, shared as they are, plus the
// container's changeset as one new layer, with the container's config.
func (cs *Containers) Commit(ctx context.Context, c *Container, o CommitOptions) (v1.Image, error) {
	unlock, err := c.Lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	done, err := cs.st.Writing()
	if err != nil {
		return nil, err
	}
	defer done()
	lower, err := cs.Lower(ctx, c)
	if err != nil {
		return nil, err
	}
	base, err := cs.Image(c)
	if err != nil {
		return nil, err
	}
	cf := c.Config.DeepCopy()
	now := time.Now().UTC()
	if err := config.ApplyChanges(cf, o.Changes, now); err != nil {
		return nil, err
	}
	if o.Author != "" {
		cf.Author = o.Author
	}
	cf.Created = v1.Time{Time: now}
	mt, _ := base.MediaType()
	if o.Compression == "" {
		o.Compression = layer.Gzip
	}
	built, err := layer.FromWriter(ctx, cs.st, o.Compression, mt == types.OCIManifestSchema1, func(w io.Writer) error {
		return rootfs.WriteChanges(w, lower, c.Upper(), rootfs.ChangeOptions{Overlay: true, RootOwned: userns.Rootless()})
	})
	if err != nil {
		return nil, err
	}
	l, err := layer.Open(cs.st, built)
	if err != nil {
		return nil, err
	}
	withConfig, err := mutate.ConfigFile(base, cf)
	if err != nil {
		return nil, err
	}
	createdBy := "gantry commit " + c.Name
	return layer.Append(withConfig, mutate.Addendum{Layer: l, MediaType: built.Descriptor.MediaType,
		History: v1.History{Created: v1.Time{Time: now}, CreatedBy: createdBy, Comment: o.Message, Author: o.Author}})
}

// Diff lists the container's changes, as docker diff does for a container.
func (cs *Containers) Diff(ctx context.Context, c *Container) ([]rootfs.Change, error) {
	lower, err := cs.Lower(ctx, c)
	if err != nil {
		return nil, err
	}
	var out []rootfs.Change
	err = filepath.WalkDir(c.Upper(), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(c.Upper(), p)
		if rel == "." {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		name := "/" + filepath.ToSlash(rel)
		if isWhiteout(fi) {
			out = append(out, rootfs.Change{Kind: "D", Path: name})
			return nil
		}
		if _, err := os.Lstat(filepath.Join(lower, rel)); err == nil {
			out = append(out, rootfs.Change{Kind: "C", Path: name})
		} else {
			out = append(out, rootfs.Change{Kind: "A", Path: name})
		}
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, err
}

// Configure edits the future image's config.
func (cs *Containers) Configure(c *Container, e config.Edits, changes []string) error {
	now := time.Now().UTC()
	if err := e.Apply(c.Config, now); err != nil {
		return err
	}
	if err := config.ApplyChanges(c.Config, changes, now); err != nil {
		return err
	}
	return cs.Save(c)
}
