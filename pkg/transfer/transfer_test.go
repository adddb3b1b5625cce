package transfer

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/gantry-build/gantry/pkg/progress"
	"github.com/gantry-build/gantry/pkg/registry"
	"github.com/gantry-build/gantry/pkg/store"
)

// testRegistry is ggcr's in-memory registry with a request log and an
// optional fault hook.
type testRegistry struct {
	*httptest.Server
	mu   sync.Mutex
	log  []string
	hook func(w http.ResponseWriter, r *http.Request) bool // true: answered
}

func newTestRegistry(t testing.TB) *testRegistry {
	t.Helper()
	tr := &testRegistry{}
	inner := ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))
	tr.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tr.mu.Lock()
		tr.log = append(tr.log, r.Method+" "+r.URL.Path)
		hook := tr.hook
		tr.mu.Unlock()
		if hook != nil && hook(w, r) {
			return
		}
		inner.ServeHTTP(w, r)
	}))
	t.Cleanup(tr.Close)
	return tr
}

func (tr *testRegistry) host() string { return strings.TrimPrefix(tr.URL, "http://") }

func (tr *testRegistry) requests(substr string) []string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	var out []string
	for _, l := range tr.log {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return out
}

func (tr *testRegistry) reset() {
	tr.mu.Lock()
	tr.log = nil
	tr.mu.Unlock()
}

func (tr *testRegistry) push(t testing.TB, ref string, img v1.Image) {
	t.Helper()
	r, err := name.ParseReference(tr.host()+"/"+ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
}

func (tr *testRegistry) pushIndex(t *testing.T, ref string, idx v1.ImageIndex) {
	t.Helper()
	r, err := name.ParseReference(tr.host()+"/"+ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(r, idx); err != nil {
		t.Fatal(err)
	}
}

func mustRef(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func fastClient(t testing.TB, cfg registry.Config) *registry.Client {
	t.Helper()
	rc, err := registry.New(registry.Options{
		Config:   cfg,
		Keychain: authn.NewMultiKeychain(), // no credentials from the host
		Retry: registry.RetryPolicy{
			Attempts: 3,
			Sleep:    func(ctx context.Context, _ time.Duration) error { return ctx.Err() },
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return rc
}

func newStore(t testing.TB) *store.Store {
	t.Helper()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func randomImage(t *testing.T, arch string) v1.Image {
	t.Helper()
	img, err := random.Image(64<<10, 2)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", arch
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// recorder is a progress.Reporter that remembers skips (build steps: none).
type recorder struct {
	progress.Reporter // Nop, for the step methods
	mu                sync.Mutex
	skips             map[string]string
	done              map[string]bool
}

func newRecorder() *recorder {
	return &recorder{Reporter: progress.Nop(), skips: map[string]string{}, done: map[string]bool{}}
}

func (r *recorder) Start(id, name string, total int64) {}
func (r *recorder) Add(id string, n int64)             {}
func (r *recorder) Done(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.done[id] = true
}
func (r *recorder) Skip(id, name, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.skips[id] = reason
}
func (r *recorder) Fail(id string, err error)         {}
func (r *recorder) Printf(format string, args ...any) {}
func (r *recorder) Close()                            {}

func TestPullStoresImageAndRepeatCostsOneRequest(t *testing.T) {
	reg := newTestRegistry(t)
	img := randomImage(t, "amd64")
	reg.push(t, "app/one:1", img)
	st, rc := newStore(t), fastClient(t, registry.Config{})
	ctx := context.Background()

	res, err := Pull(ctx, st, rc, reg.host()+"/app/one:1", PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()
	if res.Digest != want || res.UpToDate {
		t.Fatalf("first pull = %+v, want digest %s, not up to date", res, want)
	}
	m, _ := img.Manifest()
	for _, l := range m.Layers {
		if !st.HasBlob(l.Digest) {
			t.Errorf("layer %s not stored", l.Digest)
		}
	}
	e, err := st.Get(reg.host() + "/app/one:1")
	if err != nil || e.Descriptor.Digest != want {
		t.Fatalf("stored entry = %+v, %v", e, err)
	}

	reg.reset()
	res, err = Pull(ctx, st, rc, reg.host()+"/app/one:1", PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.UpToDate {
		t.Error("second pull of an unchanged tag is not up to date")
	}
	if got := reg.requests("/manifests/"); len(got) != 1 {
		t.Errorf("second pull made manifest requests %v, want exactly one", got)
	}
	if got := reg.requests("/blobs/"); len(got) != 0 {
		t.Errorf("second pull fetched blobs %v", got)
	}
}

func TestPullPicksPlatformFromIndex(t *testing.T) {
	reg := newTestRegistry(t)
	amd, arm := randomImage(t, "amd64"), randomImage(t, "arm64")
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}}},
	)
	reg.pushIndex(t, "app/multi:1", idx)
	st, rc := newStore(t), fastClient(t, registry.Config{})
	ctx := context.Background()
	ref := reg.host() + "/app/multi:1"

	res, err := Pull(ctx, st, rc, ref, PullOptions{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}})
	if err != nil {
		t.Fatal(err)
	}
	armDigest, _ := arm.Digest()
	idxDigest, _ := idx.Digest()
	if res.Stored.Digest != armDigest || res.Digest != idxDigest {
		t.Fatalf("pull arm64 stored %s (served %s), want %s from %s", res.Stored.Digest, res.Digest, armDigest, idxDigest)
	}
	amdLayers, _ := amd.Manifest()
	if st.HasBlob(amdLayers.Layers[0].Digest) {
		t.Error("pulling arm64 fetched an amd64 layer")
	}

	_, err = Pull(ctx, st, rc, ref, PullOptions{Platform: &v1.Platform{OS: "linux", Architecture: "s390x"}})
	if err == nil || !strings.Contains(err.Error(), "linux/amd64") || !strings.Contains(err.Error(), "linux/arm64") {
		t.Fatalf("missing platform error = %v, want the available platforms listed", err)
	}

	res, err = Pull(ctx, st, rc, ref, PullOptions{AllPlatforms: true})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Stored.MediaType.IsIndex() || res.Stored.Digest != idxDigest {
		t.Fatalf("--all-platforms stored %+v", res.Stored)
	}
	if !st.HasBlob(amdLayers.Layers[0].Digest) {
		t.Error("--all-platforms did not store the amd64 layers")
	}
	// A plain pull afterwards finds the whole index stored: nothing to do,
	// and the name keeps the index.
	res, err = Pull(ctx, st, rc, ref, PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.UpToDate || !res.Stored.MediaType.IsIndex() {
		t.Errorf("plain pull after --all-platforms: %+v", res)
	}
}

func TestPushMountsSkipsAndPushesIndex(t *testing.T) {
	reg := newTestRegistry(t)
	img := randomImage(t, "amd64")
	reg.push(t, "base/img:1", img)
	st, rc := newStore(t), fastClient(t, registry.Config{})
	ctx := context.Background()
	if _, err := Pull(ctx, st, rc, reg.host()+"/base/img:1", PullOptions{}); err != nil {
		t.Fatal(err)
	}

	// ggcr's registry shares blobs between repositories and cannot mount;
	// distribution keeps them apart and mounts. Play distribution for "other/".
	var mounted sync.Map
	reg.hook = func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPost && r.URL.Query().Get("mount") != "" {
			mounted.Store(r.URL.Query().Get("mount"), true)
			w.WriteHeader(http.StatusCreated)
			return true
		}
		if r.Method == http.MethodHead && strings.HasPrefix(r.URL.Path, "/v2/other/") && strings.Contains(r.URL.Path, "/blobs/") {
			if _, ok := mounted.Load(r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]); !ok {
				w.WriteHeader(http.StatusNotFound)
				return true
			}
		}
		return false
	}
	defer func() { reg.hook = nil }()
	reg.reset()
	rec := newRecorder()
	res, err := Push(ctx, st, rc, reg.host()+"/base/img:1", reg.host()+"/other/copy:2", rec)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := img.Manifest()
	for _, l := range m.Layers {
		if got := rec.skips[l.Digest.String()]; got != "mounted from base/img" {
			t.Errorf("layer %s: skip reason %q, want mounted from base/img", l.Digest, got)
		}
	}
	var uploads []string
	for _, r := range reg.requests("/blobs/uploads/") {
		if strings.HasPrefix(r, "PUT ") || strings.HasPrefix(r, "PATCH ") {
			uploads = append(uploads, r)
		}
	}
	if len(uploads) != 0 {
		t.Errorf("push uploaded %v although every blob could be mounted", uploads)
	}
	pushed, err := remote.Image(mustRef(t, reg.host()+"/other/copy:2"))
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := pushed.Digest(); d != res.Digest {
		t.Errorf("registry serves %s, push reported %s", d, res.Digest)
	}

	rec = newRecorder()
	if _, err := Push(ctx, st, rc, reg.host()+"/base/img:1", reg.host()+"/other/copy:2", rec); err != nil {
		t.Fatal(err)
	}
	for _, l := range m.Layers {
		if got := rec.skips[l.Digest.String()]; got != "exists" {
			t.Errorf("second push: layer %s skip reason %q, want exists", l.Digest, got)
		}
	}

	// An image the registry has never seen is uploaded.
	fresh := randomImage(t, "amd64")
	desc, err := st.WriteImage(ctx, fresh, store.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SetName("example.com/fresh:1", desc); err != nil {
		t.Fatal(err)
	}
	rec = newRecorder()
	if _, err := Push(ctx, st, rc, "example.com/fresh:1", reg.host()+"/fresh/img:1", rec); err != nil {
		t.Fatal(err)
	}
	fm, _ := fresh.Manifest()
	for _, l := range fm.Layers {
		if !rec.done[l.Digest.String()] {
			t.Errorf("fresh layer %s was not uploaded", l.Digest)
		}
	}
	got, err := remote.Image(mustRef(t, reg.host()+"/fresh/img:1"))
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := got.Digest(); d != desc.Digest {
		t.Errorf("pushed digest %s, want %s", d, desc.Digest)
	}

	// A whole index goes up with its platform images.
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: randomImage(t, "amd64"), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: randomImage(t, "arm64"), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}},
	)
	reg.pushIndex(t, "multi/src:1", idx)
	if _, err := Pull(ctx, st, rc, reg.host()+"/multi/src:1", PullOptions{AllPlatforms: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := Push(ctx, st, rc, reg.host()+"/multi/src:1", reg.host()+"/multi/dst:1", nil); err != nil {
		t.Fatal(err)
	}
	pushedIdx, err := remote.Index(mustRef(t, reg.host()+"/multi/dst:1"))
	if err != nil {
		t.Fatal(err)
	}
	im, _ := pushedIdx.IndexManifest()
	if len(im.Manifests) != 2 {
		t.Fatalf("pushed index has %d manifests", len(im.Manifests))
	}
	for _, d := range im.Manifests {
		if _, err := pushedIdx.Image(d.Digest); err != nil {
			t.Errorf("platform image %s not pushed: %v", d.Digest, err)
		}
	}
}

func TestPullErrors(t *testing.T) {
	reg := newTestRegistry(t)
	img := randomImage(t, "amd64")
	reg.push(t, "app/img:1", img)
	m, _ := img.Manifest()
	ctx := context.Background()
	rc := fastClient(t, registry.Config{})

	t.Run("not found", func(t *testing.T) {
		_, err := Pull(ctx, newStore(t), rc, reg.host()+"/app/nope:1", PullOptions{})
		if err == nil || !strings.Contains(err.Error(), "not found: "+reg.host()+"/app/nope:1") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("authentication required", func(t *testing.T) {
		reg.hook = func(w http.ResponseWriter, r *http.Request) bool {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
			return true
		}
		defer func() { reg.hook = nil }()
		_, err := Pull(ctx, newStore(t), rc, reg.host()+"/app/img:1", PullOptions{})
		if err == nil || !strings.Contains(err.Error(), "authentication required: run gantry login "+reg.host()) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("corrupt layer", func(t *testing.T) {
		bad := m.Layers[0].Digest
		reg.hook = func(w http.ResponseWriter, r *http.Request) bool {
			if strings.HasSuffix(r.URL.Path, "/blobs/"+bad.String()) && r.Method == http.MethodGet {
				w.Write(make([]byte, m.Layers[0].Size))
				return true
			}
			return false
		}
		st := newStore(t)
		_, err := Pull(ctx, st, rc, reg.host()+"/app/img:1", PullOptions{})
		if err == nil || !strings.Contains(err.Error(), bad.String()) {
			t.Fatalf("err = %v, want it to name %s", err, bad)
		}
		if st.HasBlob(bad) {
			t.Error("a corrupt blob was stored under its digest")
		}
		if _, err := st.Get(reg.host() + "/app/img:1"); err == nil {
			t.Error("a failed pull named the image")
		}
		// The store stays usable: a good pull completes.
		reg.hook = nil
		if _, err := Pull(ctx, st, rc, reg.host()+"/app/img:1", PullOptions{}); err != nil {
			t.Fatalf("pull after a failed one: %v", err)
		}
	})
	t.Run("malformed manifest", func(t *testing.T) {
		reg.hook = func(w http.ResponseWriter, r *http.Request) bool {
			if strings.Contains(r.URL.Path, "/manifests/") {
				w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
				fmt.Fprint(w, "{not json")
				return true
			}
			return false
		}
		defer func() { reg.hook = nil }()
		_, err := Pull(ctx, newStore(t), rc, reg.host()+"/app/img:1", PullOptions{})
		if err == nil || !strings.Contains(err.Error(), "malformed manifest") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("unknown media type", func(t *testing.T) {
		reg.hook = func(w http.ResponseWriter, r *http.Request) bool {
			if strings.Contains(r.URL.Path, "/manifests/") {
				w.Header().Set("Content-Type", "application/x-strange")
				fmt.Fprint(w, `{"schemaVersion":2}`)
				return true
			}
			return false
		}
		defer func() { reg.hook = nil }()
		_, err := Pull(ctx, newStore(t), rc, reg.host()+"/app/img:1", PullOptions{})
		if err == nil || !strings.Contains(err.Error(), `unsupported manifest media type "application/x-strange"`) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("server errors are retried", func(t *testing.T) {
		var n atomic.Int64
		reg.hook = func(w http.ResponseWriter, r *http.Request) bool {
			if strings.Contains(r.URL.Path, "/blobs/") && n.Add(1) <= 2 {
				w.Header().Set("Retry-After", "1")
				http.Error(w, "busy", http.StatusServiceUnavailable)
				return true
			}
			return false
		}
		defer func() { reg.hook = nil }()
		if _, err := Pull(ctx, newStore(t), rc, reg.host()+"/app/img:1", PullOptions{}); err != nil {
			t.Fatalf("pull through two 503s: %v", err)
		}
	})
}

func TestPullThroughMirror(t *testing.T) {
	mirror := newTestRegistry(t)
	img := randomImage(t, "amd64")
	mirror.push(t, "library/busybox:latest", img)
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	st := newStore(t)
	rc := fastClient(t, registry.Config{Mirrors: []string{deadURL, "http://" + mirror.host()}})
	res, err := Pull(context.Background(), st, rc, "busybox", PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()
	if res.Name != "docker.io/library/busybox:latest" || res.Stored.Digest != want {
		t.Fatalf("pull busybox via mirror = %+v", res)
	}
	if got := mirror.requests("/v2/library/busybox/manifests/latest"); len(got) == 0 {
		t.Error("the mirror was not asked")
	}
}
