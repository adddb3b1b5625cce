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
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
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
// Each blob is first asked for (HEAD): present blobs are skipped; blobs that
// an image pulled from another repository of the same registry holds are
// mounted from there; the rest are uploaded, several at once. Manifests go
// last, platform images before their index.
func Push(ctx context.Context, st *store.Store, rc *registry.Client, src, dest string, rep progress.Reporter) (PushResult, error) {
	if rep == nil {
		rep = progress.Nop()
	}
	e, err := Resolve(st, src)
	if err != nil {
		return PushResult{}, err
	}
	if dest == "" {
		dest = e.Name
	}
	ref, err := rc.ParseReference(dest)
	if err != nil {
		return PushResult{}, err
	}
	plan, err := planPush(st, e.Descriptor)
	if err != nil {
		return PushResult{}, err
	}
	sources, err := mountSources(st, ref.Context())
	if err != nil {
		return PushResult{}, err
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
	p := &pusher{st: st, repo: ref.Context(), ref: ref, client: &http.Client{Transport: t}, rep: rep, sources: sources}

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
	if err := p.putManifest(ctx, e.Descriptor, ref.Identifier()); err != nil {
		return PushResult{}, err
	}
	return PushResult{Name: reference.Canonical(ref), Digest: e.Descriptor.Digest}, nil
}

type labelledBlob struct {
	v1.Descriptor
	label string
}

// pushPlan lists every blob to send and the platform manifests that go before
// the top one.
type pushPlan struct {
	blobs     []labelledBlob
	manifests []v1.Descriptor
}

func planPush(st *store.Store, top v1.Descriptor) (*pushPlan, error) {
	p := &pushPlan{}
	seen := map[v1.Hash]bool{}
	var walk func(d v1.Descriptor, isTop bool) error
	walk = func(d v1.Descriptor, isTop bool) error {
		switch {
		case d.MediaType.IsIndex():
			idx, err := st.Index(d.Digest)
			if err != nil {
				return err
			}
			im, err := idx.IndexManifest()
			if err != nil {
				return err
			}
			for _, c := range im.Manifests {
				if err := walk(c, false); err != nil {
					return err
				}
			}
		default:
			raw, err := st.ReadBlob(d.Digest)
			if err != nil {
				return fmt.Errorf("push: manifest %s is missing from the store: %w", d.Digest, err)
			}
			m, err := v1.ParseManifest(bytes.NewReader(raw))
			if err != nil {
				return fmt.Errorf("push: manifest %s: %w", d.Digest, err)
			}
			for i, l := range m.Layers {
				if seen[l.Digest] || (len(l.URLs) > 0 && !l.MediaType.IsDistributable()) {
					continue
				}
				seen[l.Digest] = true
				p.blobs = append(p.blobs, labelledBlob{l, fmt.Sprintf("layer %d/%d", i+1, len(m.Layers))})
			}
			if !seen[m.Config.Digest] {
				seen[m.Config.Digest] = true
				p.blobs = append(p.blobs, labelledBlob{m.Config, "config"})
			}
		}
		if !isTop {
			p.manifests = append(p.manifests, d)
		}
		return nil
	}
	return p, walk(top, true)
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
		plan, err := planPush(st, e.Descriptor)
		if err != nil {
			continue // an incomplete image cannot lend blobs
		}
		for _, b := range plan.blobs {
			if _, ok := out[b.Digest]; !ok {
				out[b.Digest] = repo
			}
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
	st      *store.Store
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

func (p *pusher) pushBlob(ctx context.Context, b labelledBlob) error {
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

// upload streams the blob from the store: POST to open a session, then one
// PUT with the bytes and the digest (a monolithic upload, which the
// distribution spec requires registries to accept): one request fewer per
// blob than PATCH + PUT.
func (p *pusher) upload(ctx context.Context, b labelledBlob, location string) error {
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
	f, err := p.st.OpenBlob(b.Digest)
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

func (p *pusher) putManifest(ctx context.Context, d v1.Descriptor, tagOrDigest string) error {
	raw, err := p.st.ReadBlob(d.Digest)
	if err != nil {
		return err
	}
	resp, err := p.do(ctx, http.MethodPut, p.url("manifests/"+tagOrDigest), bytes.NewReader(raw), int64(len(raw)),
		http.Header{"Content-Type": {string(d.MediaType)}})
	if err != nil {
		return fmt.Errorf("push manifest: %w", registry.Explain(err, p.ref))
	}
	defer resp.Body.Close()
	if err := transport.CheckError(resp, http.StatusCreated, http.StatusOK, http.StatusAccepted); err != nil {
		return fmt.Errorf("push manifest %s: %w", d.Digest, registry.Explain(err, p.ref))
	}
	return nil
}
