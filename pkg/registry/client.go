// Package registry is gantry's access to remote registries: reference
// resolution with insecure hosts and mirrors, authentication from Docker's
// configuration, a transport that retries and resumes, and errors a person can
// act on.
package registry

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/gantry-build/gantry/pkg/reference"
)

// Options configure a Client.
type Options struct {
	Config   Config
	Insecure bool // plain HTTP for every registry of this call (--insecure)
	Jobs     int  // blobs moved at once; <1 means 4
	// Keychain finds credentials; nil means Docker's (~/.docker/config.json,
	// credsStore, credHelpers).
	Keychain authn.Keychain
	// Transport is the base HTTP transport; nil means a clone of http.DefaultTransport.
	Transport http.RoundTripper
	// Retry tunes retries; the zero value is the production policy.
	Retry RetryPolicy
	// SkipTLSVerify accepts any certificate (kaniko's --skip-tls-verify):
	// for test registries with self-signed certificates only.
	SkipTLSVerify bool
}

// Client talks to registries.
type Client struct {
	opts            Options
	mirrors         []mirror
	transport       http.RoundTripper
	mirrorTransport http.RoundTripper
}

// New makes a Client.
func New(o Options) (*Client, error) {
	if o.Jobs < 1 {
		o.Jobs = 4
	}
	if o.Keychain == nil {
		o.Keychain = authn.DefaultKeychain
	}
	if o.SkipTLSVerify {
		base, ok := o.Transport.(*http.Transport)
		if o.Transport == nil || !ok {
			base = http.DefaultTransport.(*http.Transport)
		}
		base = base.Clone()
		base.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
		o.Transport = base
	}
	// A mirror that fails is not worth the full patience: Docker Hub is the
	// fallback, so mirrors get one retry.
	mirrorRetry := o.Retry
	mirrorRetry.Attempts = 2
	// Both go through one ping cache and one connection pool: a registry
	// is pinged once per process, whichever of the two reaches it first.
	base := o.Transport
	if base == nil {
		base = http.DefaultTransport.(*http.Transport).Clone()
	}
	pings := newPingCache(base)
	c := &Client{opts: o, transport: NewTransport(pings, o.Retry), mirrorTransport: NewTransport(pings, mirrorRetry)}
	for _, m := range o.Config.Mirrors {
		mm, err := parseMirror(m)
		if err != nil {
			return nil, err
		}
		c.mirrors = append(c.mirrors, mm)
	}
	return c, nil
}

// Jobs is how many blobs move at once.
func (c *Client) Jobs() int { return c.opts.Jobs }

// Keychain is where credentials come from.
func (c *Client) Keychain() authn.Keychain { return c.opts.Keychain }

// Transport is the retrying transport beneath authentication.
func (c *Client) Transport() http.RoundTripper { return c.transport }

// ParseReference parses s by Docker's rules and marks it plain HTTP when its
// registry is insecure.
func (c *Client) ParseReference(s string) (name.Reference, error) {
	ref, err := reference.Parse(s)
	if err != nil {
		return nil, err
	}
	if c.opts.Insecure || c.opts.Config.isInsecure(ref.Context().RegistryStr()) {
		return reference.Parse(s, name.Insecure)
	}
	return ref, nil
}

// Insecure reports whether host is reached over plain HTTP.
func (c *Client) Insecure(host string) bool {
	return c.opts.Insecure || c.opts.Config.isInsecure(host)
}

// RemoteOptions are the go-containerregistry options for one call. Retries
// are done by the Client's transport, which also honours Retry-After and
// resumes broken downloads; ggcr's own retry is turned off so a failing
// request is not retried twice over.
func (c *Client) RemoteOptions(ctx context.Context, extra ...remote.Option) []remote.Option {
	opts := []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(c.opts.Keychain),
		remote.WithTransport(c.transport),
		remote.WithJobs(c.opts.Jobs),
		remote.WithUserAgent("gantry"),
		remote.WithRetryStatusCodes(),
		remote.WithRetryBackoff(remote.Backoff{Steps: 1}),
		remote.WithRetryPredicate(func(error) bool { return false }),
	}
	return append(opts, extra...)
}

// Get fetches the manifest or index ref names: one request. Docker Hub
// references go to each configured mirror in turn, then to Docker Hub. The
// returned descriptor reads its blobs from wherever the manifest came from.
func (c *Client) Get(ctx context.Context, ref name.Reference) (*remote.Descriptor, error) {
	var mirrorErrs []string
	for _, alt := range c.mirrorRefs(ref) {
		d, err := remote.Get(alt, c.RemoteOptions(ctx, remote.WithTransport(c.mirrorTransport))...)
		if err == nil {
			return d, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		mirrorErrs = append(mirrorErrs, fmt.Sprintf("mirror %s: %v", alt.Context().RegistryStr(), Explain(err, alt)))
	}
	d, err := remote.Get(ref, c.RemoteOptions(ctx)...)
	if err != nil {
		err = Explain(err, ref)
		if len(mirrorErrs) > 0 {
			return nil, fmt.Errorf("%w (also tried %s)", err, strings.Join(mirrorErrs, "; "))
		}
		return nil, err
	}
	return d, nil
}

// Head asks for ref's descriptor without the manifest body.
func (c *Client) Head(ctx context.Context, ref name.Reference) (string, error) {
	d, err := remote.Head(ref, c.RemoteOptions(ctx)...)
	if err != nil {
		return "", Explain(err, ref)
	}
	return d.Digest.String(), nil
}

// mirrorRefs rewrites a Docker Hub reference to each mirror, in order.
func (c *Client) mirrorRefs(ref name.Reference) []name.Reference {
	if ref.Context().RegistryStr() != name.DefaultRegistry || len(c.mirrors) == 0 {
		return nil
	}
	var out []name.Reference
	for _, m := range c.mirrors {
		var opts []name.Option
		if m.insecure || c.opts.Config.isInsecure(m.host) {
			opts = append(opts, name.Insecure)
		}
		s := m.host + "/" + ref.Context().RepositoryStr()
		if d, ok := ref.(name.Digest); ok {
			s += "@" + d.DigestStr()
		} else {
			s += ":" + ref.Identifier()
		}
		alt, err := name.ParseReference(s, opts...)
		if err == nil {
			out = append(out, alt)
		}
	}
	return out
}

// Explain turns a registry error into one line that says what to do. The
// original error stays reachable with errors.As.
func Explain(err error, ref name.Reference) error {
	if err == nil {
		return nil
	}
	return &explained{msg: explain(err, ref), err: err}
}

type explained struct {
	msg string
	err error
}

func (e *explained) Error() string { return e.msg }
func (e *explained) Unwrap() error { return e.err }

func explain(err error, ref name.Reference) string {
	var prev *explained
	if errors.As(err, &prev) {
		return prev.msg
	}
	host := reference.Registry(ref.Context().Registry)
	if advice := plainHTTPAdvice(err, ref.Context().RegistryStr()); advice != "" {
		return fmt.Sprintf("%s: %s", reference.Familiar(ref), advice)
	}
	var te *transport.Error
	if errors.As(err, &te) {
		switch {
		case te.StatusCode == http.StatusUnauthorized || hasCode(te, transport.UnauthorizedErrorCode):
			return fmt.Sprintf("authentication required: run gantry login %s (%s)", host, reference.Familiar(ref))
		case te.StatusCode == http.StatusNotFound || hasCode(te, transport.ManifestUnknownErrorCode, transport.NameUnknownErrorCode, transport.BlobUnknownErrorCode):
			return fmt.Sprintf("not found: %s", reference.Familiar(ref))
		case te.StatusCode == http.StatusForbidden || hasCode(te, transport.DeniedErrorCode):
			return fmt.Sprintf("access denied to %s: check your credentials with gantry login %s", reference.Familiar(ref), host)
		case te.StatusCode == http.StatusTooManyRequests || hasCode(te, transport.TooManyRequestsErrorCode):
			return fmt.Sprintf("%s: registry %s is rate limiting (%s); wait and try again, or log in for a higher limit", reference.Familiar(ref), host, firstLine(err.Error()))
		}
	}
	return fmt.Sprintf("%s: %s", reference.Familiar(ref), firstLine(err.Error()))
}

func hasCode(te *transport.Error, codes ...transport.ErrorCode) bool {
	for _, d := range te.Errors {
		for _, c := range codes {
			if d.Code == c {
				return true
			}
		}
	}
	return false
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// MaxManifestSize bounds a manifest or index read from a registry. It is
// containerd's MaxManifestSize (core/remotes/docker/resolver.go, spelled
// 4 * 1048 * 1048 there): "4M bytes represents a much larger upper bound
// for images which may contain large annotations". go-containerregistry
// alone would read 100 MiB.
const MaxManifestSize = 4 * 1048 * 1048

// Layer opens blob d of repository repo (registry/name) for reading: the
// store's Fetcher for blobs it keeps lazily.
func (c *Client) Layer(ctx context.Context, repo string, d v1.Descriptor) (v1.Layer, error) {
	ref, err := c.ParseReference(repo + "@" + d.Digest.String())
	if err != nil {
		return nil, err
	}
	dig, ok := ref.(name.Digest)
	if !ok {
		return nil, fmt.Errorf("%s@%s is not a digest reference", repo, d.Digest)
	}
	l, err := remote.Layer(dig, c.RemoteOptions(ctx)...)
	if err != nil {
		return nil, Explain(err, ref)
	}
	return l, nil
}
