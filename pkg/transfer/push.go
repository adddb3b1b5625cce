package transfer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"

	"github.com/gantry-build/gantry/pkg/progress"
	"github.com/gantry-build/gantry/pkg/reference"
	"github.com/gantry-build/gantry/pkg/registry"
	"github.com/gantry-build/gantry/pkg/store"
)

// PushResult tells what a push did.
type PushResult struct {
	Name   string  // canonical destination
	Digest v1.Hash // manifest or index digest, as the registry now serves it
}

// Push sends the stored image src to dest (src's own name when dest is "").
// It is PushImage of what the store holds, with the repositories stored
// images were pulled from as mount sources.
func Push(ctx context.Context, st *store.Store, rc *registry.Client, src, dest string, rep progress.Reporter) (PushResult, error) {
	e, err := Resolve(st, src)
	if err != nil {
		return PushResult{}, err
	}
	if dest == "" {
		dest = e.Name
	}
	var top remote.Taggable
	if e.IsIndex() {
		top, err = st.Index(e.Descriptor.Digest)
	} else {
		top, err = st.Image(e.Descriptor.Digest)
	}
	if err != nil {
		return PushResult{}, err
	}
	return PushImage(ctx, rc, top, dest, PushOptions{Store: st, Progress: rep})
}

// PushOptions steer PushImage.
type PushOptions struct {
	// Store, when set, lends mount sources: the repositories of the
	// destination's registry that stored images were pulled from.
	Store    *store.Store
	Progress progress.Reporter // nil: none
}

// PushImage sends an image or an index (a v1.Image or v1.ImageIndex) to
// dest: the one push path of gantry push and every --push. Each blob is
// first asked for (HEAD): present blobs are skipped; blobs that another
// repository of the same registry holds (a layer read from there, or one a
// stored image was pulled from there) are mounted from it; the rest are
// streamed from wherever they are (the store, or the base image's
// registry), several at once. Manifests go last, platform images before
// their index.
func PushImage(ctx context.Context, rc *registry.Client, top remote.Taggable, dest string, o PushOptions) (PushResult, error) {
	rep := o.Progress
	if rep == nil {
		rep = progress.Nop()
	}
	ref, err := rc.ParseReference(dest)
	if err != nil {
		return PushResult{}, err
	}
	plan, err := planPush(top)
	if err != nil {
		return PushResult{}, err
	}
	sources := map[v1.Hash]name.Repository{}
	if o.Store != nil {
		if sources, err = mountSources(o.Store, ref.Context()); err != nil {
			return PushResult{}, err
		}
	}
	for _, b := range plan.blobs {
		if o.Store != nil && !o.Store.HasBlob(b.Digest) {
			// A layer the store keeps lazily: mount it from its repository.
			if src, ok := o.Store.BlobSource(b.Digest); ok {
				if repo, err := name.NewRepository(src); err == nil && repo.RegistryStr() == ref.Context().RegistryStr() && repo.RepositoryStr() != ref.Context().RepositoryStr() {
					sources[b.Digest] = repo
				}
			}
		}
		if ml, ok := b.layer.(*remote.MountableLayer); ok {
			from := ml.Reference.Context()
			if from.RegistryStr() == ref.Context().RegistryStr() && from.RepositoryStr() != ref.Context().RepositoryStr() {
				sources[b.Digest] = from
			}
		}
	}
	scopes := []string{ref.Context().Scope(transport.PushScope)}
	for _, repo := range uniqueRepos(sources) {
		scopes = append(scopes, repo.Scope(transport.PullScope))
	}
	auth, err := rc.Keychain().Resolve(ref.Context())
	if err != nil {
		return PushResult{}, fmt.Errorf("credentials for %s: %w", reference.Registry(ref.Context().Registry), err)
	}
	t, err := transport.NewWithContext(ctx, ref.Context().Registry, auth, rc.Transport(), scopes)
	if err != nil {
		return PushResult{}, registry.Explain(err, ref)
	}
	p := &pusher{repo: ref.Context(), ref: ref, client: &http.Client{Transport: t}, rep: rep, sources: sources}
	// A rebuild that changed nothing pushes what the tag already names: the
	// registry that took that manifest holds every blob it names, so one
	// request stands for all of them (as go-containerregistry does).
	if p.tagHas(ctx, plan.top) {
		for _, b := range plan.blobs {
			rep.Skip(b.Digest.String(), b.label, "exists")
		}
		return PushResult{Name: reference.Canonical(ref), Digest: plan.top.Digest}, nil
	}

	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(rc.Jobs())
	for _, b := range plan.blobs {
		g.Go(func() error { return p.pushBlob(gctx, b) })
	}
	if err := g.Wait(); err != nil {
		return PushResult{}, err
	}
	for _, m := range plan.manifests {
		if err := p.putManifest(ctx, m, m.Digest.String()); err != nil {
			return PushResult{}, err
		}
	}
	if err := p.putManifest(ctx, plan.top, ref.Identifier()); err != nil {
		return PushResult{}, err
	}
	return PushResult{Name: reference.Canonical(ref), Digest: plan.top.Digest}, nil
}

// pushBlob is one blob to send: a layer (read through its Compressed
// stream) or a config (its bytes).
type pushBlob struct {
	v1.Descriptor
	label  string
	layer  v1.Layer
	config []byte
}

func (b pushBlob) open() (io.ReadCloser, error) {
	if b.layer != nil {
		return b.layer.Compressed()
	}
	return io.NopCloser(bytes.NewReader(b.config)), nil
}

// pushManifest is a manifest or index to PUT, with its exact bytes.
type pushManifest struct {
	v1.Descriptor
	raw []byte
}

// pushPlan lists every blob to send, the platform manifests that go before
// the top one, and the top one.
type pushPlan struct {
	blobs     []pushBlob
	manifests []pushManifest
	top       pushManifest
}

func planPush(top remote.Taggable) (*pushPlan, error) {
	p := &pushPlan{}
	seen := map[v1.Hash]bool{}
	var walkImage func(img v1.Image) (pushManifest, error)
	walkImage = func(img v1.Image) (pushManifest, error) {
		raw, err := img.RawManifest()
		if err != nil {
			return pushManifest{}, err
		}
		m, err := v1.ParseManifest(bytes.NewReader(raw))
		if err != nil {
			return pushManifest{}, fmt.Errorf("push: manifest: %w", err)
		}
		for i, l := range m.Layers {
			if seen[l.Digest] || (len(l.URLs) > 0 && !l.MediaType.IsDistributable()) {
				continue
			}
			seen[l.Digest] = true
			layer, err := img.LayerByDigest(l.Digest)
			if err != nil {
				return pushManifest{}, fmt.Errorf("push: layer %s: %w", l.Digest, err)
			}
			p.blobs = append(p.blobs, pushBlob{Descriptor: l, label: fmt.Sprintf("layer %d/%d", i+1, len(m.Layers)), layer: layer})
		}
		if !seen[m.Config.Digest] {
			seen[m.Config.Digest] = true
			cfg, err := img.RawConfigFile()
			if err != nil {
				return pushManifest{}, err
			}
			p.blobs = append(p.blobs, pushBlob{Descriptor: m.Config, label: "config", config: cfg})
		}
		return describe(img, raw)
	}
	switch t := top.(type) {
	case v1.ImageIndex:
		raw, err := t.RawManifest()
		if err != nil {
			return nil, err
		}
		// Every image and nested index, each before the index that names
		// it: the order the manifests are put in.
		err = store.WalkIndex(t, func(_ v1.Descriptor, img v1.Image) error {
			m, err := walkImage(img)
			if err == nil {
				p.manifests = append(p.manifests, m)
			}
			return err
		}, func(_ v1.Descriptor, idx v1.ImageIndex) error {
			raw, err := idx.RawManifest()
			if err != nil {
				return err
			}
			m, err := describe(idx, raw)
			if err == nil {
				p.manifests = append(p.manifests, m)
			}
			return err
		})
		if err != nil {
			return nil, err
		}
		if p.top, err = describe(t, raw); err != nil {
			return nil, err
		}
	case v1.Image:
		m, err := walkImage(t)
		if err != nil {
			return nil, err
		}
		p.top = m
	default:
		return nil, fmt.Errorf("push: %T is neither an image nor an index", top)
	}
	return p, nil
}

func describe(t interface {
	MediaType() (types.MediaType, error)
}, raw []byte) (pushManifest, error) {
	mt, err := t.MediaType()
	if err != nil {
		return pushManifest{}, err
	}
	h, n, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		return pushManifest{}, err
	}
	return pushManifest{Descriptor: v1.Descriptor{MediaType: mt, Digest: h, Size: n}, raw: raw}, nil
}

// mountSources maps blobs to a repository of dest's registry that has them,
// from where stored images were pulled.
func mountSources(st *store.Store, dest name.Repository) (map[v1.Hash]name.Repository, error) {
	entries, err := st.List()
	if err != nil {
		return nil, err
	}
	out := map[v1.Hash]name.Repository{}
	for _, e := range entries {
		src := e.Source()
		if src == "" {
			continue
		}
		repo, err := name.NewRepository(src)
		if err != nil || repo.RegistryStr() != dest.RegistryStr() || repo.RepositoryStr() == dest.RepositoryStr() {
			continue
		}
		err = st.Walk(e.Descriptor, func(d v1.Descriptor) error {
			if _, ok := out[d.Digest]; !ok && !d.MediaType.IsImage() && !d.MediaType.IsIndex() {
				out[d.Digest] = repo
			}
			return nil
		})
		if err != nil {
			continue // an incomplete image cannot lend blobs
		}
	}
	return out, nil
}

func uniqueRepos(m map[v1.Hash]name.Repository) []name.Repository {
	seen := map[string]name.Repository{}
	for _, r := range m {
		seen[r.RepositoryStr()] = r
	}
	var out []name.Repository
	for _, r := range seen {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].RepositoryStr() < out[j].RepositoryStr() })
	return out
}

type pusher struct {
	repo    name.Repository
	ref     name.Reference
	client  *http.Client
	rep     progress.Reporter
	sources map[v1.Hash]name.Repository
}

func (p *pusher) url(path string) string {
	return fmt.Sprintf("%s://%s/v2/%s/%s", p.repo.Scheme(), p.repo.RegistryStr(), p.repo.RepositoryStr(), path)
}

func (p *pusher) do(ctx context.Context, method, u string, body io.Reader, size int64, header http.Header) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if body != nil {
		req.ContentLength = size
	}
	return p.client.Do(req)
}

func (p *pusher) pushBlob(ctx context.Context, b pushBlob) error {
	id := b.Digest.String()
	resp, err := p.do(ctx, http.MethodHead, p.url("blobs/"+id), nil, 0, nil)
	if err != nil {
		return p.fail(id, err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		return p.fail(id, &transport.Error{StatusCode: resp.StatusCode})
	}
	if resp.StatusCode == http.StatusOK {
		p.rep.Skip(id, b.label, "exists")
		return nil
	}
	location := ""
	if from, ok := p.sources[b.Digest]; ok {
		q := url.Values{"mount": {id}, "from": {from.RepositoryStr()}}
		resp, err := p.do(ctx, http.MethodPost, p.url("blobs/uploads/?"+q.Encode()), nil, 0, nil)
		if err != nil {
			return p.fail(id, err)
		}
		if err := checkAndClose(resp, http.StatusCreated, http.StatusAccepted); err != nil {
			return p.fail(id, err)
		}
		switch resp.StatusCode {
		case http.StatusCreated:
			p.rep.Skip(id, b.label, "mounted from "+from.RepositoryStr())
			return nil
		case http.StatusAccepted:
			// The registry could not mount but opened an upload for us.
			location, err = resolveLocation(resp)
			if err != nil {
				return p.fail(id, err)
			}
		}
	}
	// An upload that broke is started over: the registry discards an
	// unfinished session, and blob bodies cannot be replayed mid-request.
	for attempt := 1; attempt <= uploadAttempts; attempt++ {
		if err = p.upload(ctx, b, location); err == nil || !retriable(err) || ctx.Err() != nil {
			return err
		}
		location = ""
		p.rep.Printf("%s: upload failed, starting over (%d/%d): %v", b.label, attempt, uploadAttempts, err)
	}
	return err
}

const uploadAttempts = 3

// retriable reports whether a failed upload may succeed when tried again:
// not when the registry refused it (4xx other than 408 and 429).
func retriable(err error) bool {
	var te *transport.Error
	if errors.As(err, &te) {
		return te.StatusCode >= 500 || te.StatusCode == http.StatusRequestTimeout || te.StatusCode == http.StatusTooManyRequests
	}
	return true
}

// upload streams the blob from where it is: POST to open a session, then one
// PUT with the bytes and the digest (a monolithic upload, which the
// distribution spec requires registries to accept): one request fewer per
// blob than PATCH + PUT.
func (p *pusher) upload(ctx context.Context, b pushBlob, location string) error {
	id := b.Digest.String()
	if location == "" {
		resp, err := p.do(ctx, http.MethodPost, p.url("blobs/uploads/"), nil, 0, nil)
		if err != nil {
			return p.fail(id, err)
		}
		if err := checkAndClose(resp, http.StatusAccepted); err != nil {
			return p.fail(id, err)
		}
		if location, err = resolveLocation(resp); err != nil {
			return p.fail(id, err)
		}
	}
	u, err := url.Parse(location)
	if err != nil {
		return p.fail(id, err)
	}
	q := u.Query()
	q.Set("digest", id)
	u.RawQuery = q.Encode()
	f, err := b.open()
	if err != nil {
		return p.fail(id, err)
	}
	defer f.Close()
	p.rep.Start(id, b.label, b.Size)
	body := progress.Reader(ctx, f, p.rep, id)
	resp, err := p.do(ctx, http.MethodPut, u.String(), body, b.Size, http.Header{"Content-Type": {"application/octet-stream"}})
	if err != nil {
		return p.fail(id, err)
	}
	if err := checkAndClose(resp, http.StatusCreated); err != nil {
		return p.fail(id, err)
	}
	p.rep.Done(id)
	return nil
}

// checkAndClose turns an unexpected answer into the registry's error (read
// from the body before it is closed) and closes the body.
func checkAndClose(resp *http.Response, codes ...int) error {
	defer resp.Body.Close()
	return transport.CheckError(resp, codes...)
}

func (p *pusher) fail(id string, err error) error {
	p.rep.Fail(id, err)
	return fmt.Errorf("push blob %s: %w", id, registry.Explain(err, p.ref))
}

func resolveLocation(resp *http.Response) (string, error) {
	loc := resp.Header.Get("Location")
	if loc == "" {
		return "", fmt.Errorf("registry answered %s without an upload location", resp.Status)
	}
	u, err := resp.Request.URL.Parse(loc)
	if err != nil {
		return "", fmt.Errorf("registry sent a bad upload location %q", loc)
	}
	return u.String(), nil
}

// tagHas reports whether the reference pushed to already names m; any
// failure to tell is a no.
func (p *pusher) tagHas(ctx context.Context, m pushManifest) bool {
	resp, err := p.do(ctx, http.MethodHead, p.url("manifests/"+p.ref.Identifier()), nil, 0,
		http.Header{"Accept": {string(m.MediaType)}})
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK && resp.Header.Get("Docker-Content-Digest") == m.Digest.String()
}

func (p *pusher) putManifest(ctx context.Context, m pushManifest, tagOrDigest string) error {
	resp, err := p.do(ctx, http.MethodPut, p.url("manifests/"+tagOrDigest), bytes.NewReader(m.raw), int64(len(m.raw)),
		http.Header{"Content-Type": {string(m.MediaType)}})
	if err != nil {
		return fmt.Errorf("push manifest: %w", registry.Explain(err, p.ref))
	}
	defer resp.Body.Close()
	if err := transport.CheckError(resp, http.StatusCreated, http.StatusOK, http.StatusAccepted); err != nil {
		return fmt.Errorf("push manifest %s: %w", m.Digest, registry.Explain(err, p.ref))
	}
	return nil
}
