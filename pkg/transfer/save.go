package transfer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/gantry-build/gantry/pkg/archive"
	"github.com/gantry-build/gantry/pkg/platform"
	"github.com/gantry-build/gantry/pkg/progress"
	"github.com/gantry-build/gantry/pkg/reference"
	"github.com/gantry-build/gantry/pkg/registry"
	"github.com/gantry-build/gantry/pkg/store"
)

// SaveOptions are archive.SaveOptions plus where missing images come from.
type SaveOptions struct {
	archive.SaveOptions
	// Registry, when set, pulls the images the store lacks, as docker run
	// does: the archive is written while they arrive, each layer as soon as
	// it is stored. Nil: only stored images.
	Registry *registry.Client
	Progress progress.Reporter
}

// Save writes the images args name into one archive on w. Images named
// twice (two tags of one image) are written once with both tags.
func Save(ctx context.Context, st *store.Store, w io.Writer, args []string, opts SaveOptions) error {
	ctx, cancel := context.WithCancel(ctx)
	var pulls []*pending
	defer func() {
		cancel() // a failed save stops the pulls it started
		for _, p := range pulls {
			<-p.done
		}
	}()
	var items []archive.Item
	at := map[string]int{} // manifest digest → index in items
	for _, arg := range args {
		var arriving v1.Image // an image being pulled while the archive is written
		e, err := Resolve(st, arg)
		var missing *NotStoredError
		if errors.As(err, &missing) && opts.Registry != nil {
			p := startPull(ctx, st, arg, opts)
			pulls = append(pulls, p)
			if arriving = p.image; arriving != nil {
				e, err = store.Entry{Name: p.name, Descriptor: v1.Descriptor{Digest: p.digest}}, nil
			} else if err = p.wait(); err == nil {
				e, err = Resolve(st, arg) // nothing new to fetch, or a whole index
			}
		}
		if err != nil {
			return err
		}
		var tags []name.Tag
		if t, err := name.NewTag(e.Name); err == nil && e.Name != "" {
			tags = append(tags, t)
		}
		if i, ok := at[e.Descriptor.Digest.String()]; ok {
			items[i].Names = append(items[i].Names, tags...)
			continue
		}
		item := archive.Item{Names: tags, Image: arriving}
		switch {
		case arriving != nil:
		case e.IsIndex():
			if item.Index, err = st.Index(e.Descriptor.Digest); err != nil {
				return err
			}
		default:
			if item.Image, err = st.Image(e.Descriptor.Digest); err != nil {
				return err
			}
		}
		if opts.Platform != nil && arriving == nil {
			if err := savedPlatform(item, *opts.Platform, arg); err != nil {
				return err
			}
		}
		at[e.Descriptor.Digest.String()] = len(items)
		items = append(items, item)
	}
	if err := archive.Save(w, items, opts.SaveOptions); err != nil {
		return err
	}
	for _, p := range pulls {
		if err := p.wait(); err != nil {
			return err
		}
	}
	return nil
}

// pending is a pull running while the archive is written.
type pending struct {
	st     *store.Store
	name   string
	digest v1.Hash
	image  v1.Image // layers wait for their blob in the store; nil when the pull stored nothing new or kept an index

	done chan struct{} // closed when the pull has ended; err is then set
	err  error

	mu      sync.Mutex
	arrived map[v1.Hash]chan struct{}
}

// startPull starts pulling arg and returns once the image to store is known
// (its manifest and config fetched) or the pull has ended.
func startPull(ctx context.Context, st *store.Store, arg string, opts SaveOptions) *pending {
	p := &pending{st: st, done: make(chan struct{}), arrived: map[v1.Hash]chan struct{}{}}
	known := make(chan struct{})
	var once sync.Once
	go func() {
		defer close(p.done)
		defer once.Do(func() { close(known) })
		_, err := Pull(ctx, st, opts.Registry, arg, PullOptions{
			Platform: opts.Platform,
			Progress: opts.Progress,
			OnImage: func(img v1.Image) {
				once.Do(func() {
					p.image = &pendingImage{Image: img, p: p}
					p.digest, _ = img.Digest()
					close(known)
				})
			},
			Stored: func(h v1.Hash) { p.signal(h) },
		})
		p.err = err
	}()
	<-known
	// The name the pull stores the image under, known before it ends.
	if ref, err := opts.Registry.ParseReference(arg); err == nil {
		p.name = reference.Canonical(ref)
	}
	return p
}

func (p *pending) wait() error { <-p.done; return p.err }

// channel is closed once h is stored.
func (p *pending) channel(h v1.Hash) chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.channelLocked(h)
}

func (p *pending) channelLocked(h v1.Hash) chan struct{} {
	c, ok := p.arrived[h]
	if !ok {
		c = make(chan struct{})
		p.arrived[h] = c
	}
	return c
}

// signal says h is stored; saying it twice is harmless.
func (p *pending) signal(h v1.Hash) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.channelLocked(h)
	select {
	case <-c:
	default:
		close(c)
	}
}

// blob waits until the pull has stored h (or stored it before) and returns
// it as a stored layer.
func (p *pending) blob(l v1.Layer) (v1.Layer, error) {
	h, err := l.Digest()
	if err != nil {
		return nil, err
	}
	c := p.channel(h)
	if !p.st.HasBlob(h) {
		select {
		case <-c:
		case <-p.done:
			if p.err != nil {
				return nil, p.err
			}
		}
	}
	mt, err := l.MediaType()
	if err != nil {
		return nil, err
	}
	size, err := l.Size()
	if err != nil {
		return nil, err
	}
	diffID, err := l.DiffID()
	if err != nil {
		return nil, err
	}
	return p.st.Layer(v1.Descriptor{MediaType: mt, Digest: h, Size: size}, diffID)
}

// pendingImage is the remote image being pulled; its layers are read from
// the store as they land there, never from the registry a second time.
type pendingImage struct {
	v1.Image
	p *pending
}

func (i *pendingImage) Layers() ([]v1.Layer, error) {
	ls, err := i.Image.Layers()
	if err != nil {
		return nil, err
	}
	out := make([]v1.Layer, len(ls))
	for n, l := range ls {
		out[n] = &pendingLayer{Layer: l, p: i.p}
	}
	return out, nil
}

type pendingLayer struct {
	v1.Layer
	p *pending
}

func (l *pendingLayer) Compressed() (io.ReadCloser, error) {
	s, err := l.p.blob(l.Layer)
	if err != nil {
		return nil, err
	}
	return s.Compressed()
}

func (l *pendingLayer) Uncompressed() (io.ReadCloser, error) {
	s, err := l.p.blob(l.Layer)
	if err != nil {
		return nil, err
	}
	return s.Uncompressed()
}

// savedPlatform refuses to save, for --platform, an image of another
// platform or an index without that platform (an image being pulled is
// held to it by the pull).
func savedPlatform(item archive.Item, want v1.Platform, arg string) error {
	if item.Index != nil {
		im, err := item.Index.IndexManifest()
		if err != nil {
			return err
		}
		if _, err := platform.Pick(im.Manifests, want); err != nil {
			return fmt.Errorf("%s: %w", arg, err)
		}
		return nil
	}
	cf, err := item.Image.ConfigFile()
	if err != nil {
		return err
	}
	if have := platform.OfConfig(cf); have.OS != "" && platform.Rank(want, have) == 0 {
		return fmt.Errorf("image %s does not match the specified platform: wanted %s, actual: %s", arg, platform.String(want), platform.String(have))
	}
	return nil
}
