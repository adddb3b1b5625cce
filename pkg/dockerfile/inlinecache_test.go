package dockerfile

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/gantry-build/gantry/internal/testenv"
	"github.com/gantry-build/gantry/pkg/config"
	"github.com/gantry-build/gantry/pkg/platform"
	"github.com/gantry-build/gantry/pkg/progress"
	"github.com/gantry-build/gantry/pkg/registry"
	"github.com/gantry-build/gantry/pkg/store"
	"github.com/gantry-build/gantry/pkg/transfer"
)

// chain is an image built as the engine builds one: a base layer, two
// steps (each one layer and one history line), then a config-only step.
type chain struct{ base, step1, step2, final v1.Image }

func makeChain(t *testing.T) chain {
	t.Helper()
	var c chain
	add := func(img v1.Image, by string) v1.Image {
		l, err := random.Layer(512, types.DockerLayer)
		if err != nil {
			t.Fatal(err)
		}
		out, err := mutate.Append(img, mutate.Addendum{Layer: l, MediaType: types.DockerLayer, History: v1.History{CreatedBy: by, Comment: "buildkit.dockerfile.v0"}})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	c.base = add(empty.Image, "base")
	c.step1 = add(c.base, "COPY a /a")
	c.step2 = add(c.step1, "RUN make")
	cf, err := c.step2.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.Config.Env = []string{"X=1"}
	cf.History = append(cf.History, v1.History{CreatedBy: "ENV X=1", EmptyLayer: true})
	if c.final, err = mutate.ConfigFile(c.step2, cf); err != nil {
		t.Fatal(err)
	}
	return c
}

func key(c byte) string { return strings.Repeat(string(c), 64) }

// The inline cache is one field added to the config JSON: everything else
// stays as it was (go-containerregistry's ConfigFile, which drops unknown
// fields, is never round-tripped), the image is valid, the same steps give
// the same digest, and reading it gives the steps back.
func TestInlineCacheRoundTrip(t *testing.T) {
	c := makeChain(t)
	steps := []inlineStep{{Key: key('a'), Layers: 2, History: 2}, {Key: key('b'), Layers: 3, History: 3}}
	out, err := addInlineCache(c.final, steps)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(out); err != nil {
		t.Fatalf("the image with an inline cache is not valid: %v", err)
	}
	raw, _ := out.RawConfigFile()
	got, err := readInlineCache(raw)
	if err != nil || !reflect.DeepEqual(got, steps) {
		t.Fatalf("read back %+v, %v; want %+v", got, err, steps)
	}
	before, _ := c.final.RawConfigFile()
	var was, is map[string]json.RawMessage
	json.Unmarshal(before, &was)
	if err := json.Unmarshal(raw, &is); err != nil {
		t.Fatal(err)
	}
	if _, ok := is[inlineCacheField]; !ok {
		t.Fatalf("no %s field in %s", inlineCacheField, raw)
	}
	delete(is, inlineCacheField)
	if !reflect.DeepEqual(was, is) {
		t.Errorf("the config changed beyond the inline cache:\n%s\n%s", before, raw)
	}
	cf1, _ := c.final.ConfigFile()
	cf2, err := out.ConfigFile()
	if err != nil || !reflect.DeepEqual(cf1, cf2) {
		t.Errorf("ConfigFile differs: %v", err)
	}
	again, _ := addInlineCache(c.final, steps)
	d1, _ := out.Digest()
	d2, _ := again.Digest()
	if d1 != d2 {
		t.Errorf("same steps, digests %s and %s", d1, d2)
	}
	if d0, _ := c.final.Digest(); d0 == d1 {
		t.Error("the inline cache did not change the digest")
	}
	// An image carrying a healthcheck's StartInterval (a raw config too)
	// keeps it.
	withStart, err := config.WithStartInterval(c.final, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := addInlineCache(withStart, nil); err != nil {
		t.Fatal(err)
	}
}

// An image without the field, BuildKit's own inline cache (keys gantry
// cannot match) and damaged metadata are told apart, each an error that
// reuses nothing; none panics.
func TestReadInlineCacheRefusals(t *testing.T) {
	plain := `{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`
	if _, err := readInlineCache([]byte(plain)); !errors.Is(err, errNoInlineCache) {
		t.Errorf("plain config: %v, want errNoInlineCache", err)
	}
	bk := `{"os":"linux","moby.buildkit.cache.v0":"eyJsYXllcnMiOltdfQ=="}`
	if _, err := readInlineCache([]byte(bk)); !errors.Is(err, errBuildKitInlineCache) {
		t.Errorf("BuildKit's: %v, want errBuildKitInlineCache", err)
	}
	for _, field := range []string{
		`"x"`, `[]`, `{"steps":"x"}`, `{"steps":[{"key":"zz","layers":1,"history":1}]}`,
		`{"steps":[{"key":"` + key('a') + `","layers":0,"history":1}]}`,
		`{"steps":[{"key":"` + key('a') + `","layers":1,"history":-1}]}`,
		`{"steps":[{"key":"` + key('a') + `","layers":1e99,"history":1}]}`,
		`{"steps":[{"key":"` + strings.ToUpper(key('a')) + `","layers":1,"history":1}]}`,
	} {
		raw := `{"os":"linux","` + inlineCacheField + `":` + field + `}`
		steps, err := readInlineCache([]byte(raw))
		if err == nil || errors.Is(err, errNoInlineCache) {
			t.Errorf("%s: %+v, %v; want an error", field, steps, err)
		}
	}
	if _, err := readInlineCache([]byte("not json")); err == nil {
		t.Error("a config that is not JSON was read")
	}
}

// A hit rebuilds the step's image from the image so far and the cache
// image's layer and history line: byte for byte the image the step made.
// An entry that does not fit the image so far (damaged, or a key met by
// chance in another chain) is refused, never a wrong hit.
func TestInlineHit(t *testing.T) {
	c := makeChain(t)
	for _, tc := range []struct {
		parent, want v1.Image
		e            inlineStep
		by           string
	}{
		{c.base, c.step1, inlineStep{Key: key('a'), Layers: 2, History: 2}, "COPY a /a"},
		{c.step1, c.step2, inlineStep{Key: key('b'), Layers: 3, History: 3}, "RUN make"},
	} {
		got, err := inlineHit(tc.parent, c.final, tc.e, tc.by)
		if err != nil {
			t.Fatalf("%s: %v", tc.by, err)
		}
		g, _ := got.Digest()
		w, _ := tc.want.Digest()
		if g != w {
			t.Errorf("%s: rebuilt %s, the step made %s", tc.by, g, w)
		}
	}
	other := makeChain(t)
	for name, tc := range map[string]struct {
		parent v1.Image
		e      inlineStep
		by     string
	}{
		"layer count":          {c.base, inlineStep{Layers: 3, History: 3}, "COPY a /a"},
		"history count":        {c.base, inlineStep{Layers: 2, History: 3}, "COPY a /a"},
		"instruction":          {c.base, inlineStep{Layers: 2, History: 2}, "COPY b /b"},
		"config-only line":     {c.step2, inlineStep{Layers: 4, History: 4}, "ENV X=1"},
		"beyond the image":     {c.final, inlineStep{Layers: 9, History: 9}, "RUN make"},
		"another image's base": {other.base, inlineStep{Layers: 2, History: 2}, "COPY a /a"},
	} {
		if img, err := inlineHit(tc.parent, c.final, tc.e, tc.by); err == nil {
			d, _ := img.Digest()
			t.Errorf("%s: a hit (%s), want a refusal", name, d)
		}
	}
}

// registryLog is an in-memory registry that notes the blobs it serves.
type registryLog struct {
	host string
	mu   sync.Mutex
	gets map[string]int // blob digest → GETs
}

func newRegistry(t *testing.T) *registryLog {
	r := &registryLog{gets: map[string]int{}}
	inner := ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if _, blob, ok := strings.Cut(req.URL.Path, "/blobs/"); ok && req.Method == http.MethodGet {
			r.mu.Lock()
			r.gets[blob]++
			r.mu.Unlock()
		}
		inner.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	r.host = strings.TrimPrefix(srv.URL, "http://")
	return r
}

// layerGets is how many times each layer of img was downloaded since the
// last call.
func (r *registryLog) layerGets(t *testing.T, img v1.Image) []int {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []int
	for _, l := range m.Layers {
		out = append(out, r.gets[l.Digest.String()])
	}
	r.gets = map[string]int{}
	return out
}

type inlineBuild struct {
	t    *testing.T
	dir  string
	rc   *registry.Client
	opts DockerfileOptions
}

// build builds into a fresh store (another runner) and returns the image
// and the progress.
func (ib inlineBuild) build(st *store.Store, from, to string, args map[string]string) (v1.Image, string) {
	ib.t.Helper()
	var out bytes.Buffer
	rep, _ := progress.New("plain", &out)
	o := ib.opts
	o.Context, o.Progress, o.BuildArgs = ib.dir, rep, args
	var err error
	if from != "" {
		spec, err := ParseCacheSpec(from, false)
		if err != nil {
			ib.t.Fatal(err)
		}
		o.CacheFrom = []CacheSpec{spec}
	}
	if o.CacheTo, err = ParseCacheSpec(to, true); err != nil {
		ib.t.Fatal(err)
	}
	if st == nil {
		st = testenv.Store(ib.t)
		st.SetFetcher(context.Background(), ib.rc.Layer)
	}
	res, err := FromDockerfile(context.Background(), st, ib.rc, o)
	if err != nil {
		ib.t.Fatalf("build --cache-from %q --cache-to %q: %v\n%s", from, to, err, out.String())
	}
	return res.Image, out.String()
}

func (ib inlineBuild) push(img v1.Image, ref string) {
	ib.t.Helper()
	if _, err := transfer.PushImage(context.Background(), ib.rc, img, ref, transfer.PushOptions{}); err != nil {
		ib.t.Fatal(err)
	}
}

func digestOf(t *testing.T, img v1.Image) v1.Hash {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// The habit of buildx users: build with --cache-to type=inline and push;
// another runner, its store empty, builds with --cache-from IMAGE and gets
// every step from the image (the same image, without downloading a layer
// of it); a changed file rebuilds from its step on. A build without
// type=inline makes the image it always made, which the inline one is
// with one config field added.
func TestInlineCacheAcrossRunners(t *testing.T) {
	reg := newRegistry(t)
	dir := t.TempDir()
	mkTree(t, dir, map[string]string{"a": "a", "b": "b", "c": "c"}, nil)
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\nCOPY a /a\nCOPY b /b\nENV X=1\nCOPY c /c\n"), 0o644)
	ib := inlineBuild{t: t, dir: dir, rc: testenv.Client(t)}
	ref := reg.host + "/team/app:1"

	plain, _ := ib.build(nil, "", "", nil)
	first, _ := ib.build(nil, "", "type=inline", nil)
	if digestOf(t, plain) == digestOf(t, first) {
		t.Fatal("type=inline did not change the image")
	}
	rawPlain, _ := plain.RawConfigFile()
	rawFirst, _ := first.RawConfigFile()
	if bytes.Contains(rawPlain, []byte(inlineCacheField)) || !bytes.HasPrefix(rawFirst, rawPlain[:len(rawPlain)-1]) {
		t.Errorf("the inline config is not the plain one plus a field:\n%s\n%s", rawPlain, rawFirst)
	}
	steps, err := readInlineCache(rawFirst)
	if err != nil || len(steps) != 3 {
		t.Fatalf("inline cache %+v, %v; want the 3 COPY steps", steps, err)
	}
	byArg, out := ib.build(nil, "", "", map[string]string{"BUILDKIT_INLINE_CACHE": "1"})
	if digestOf(t, byArg) != digestOf(t, first) || strings.Contains(out, "not consumed") {
		t.Errorf("--build-arg BUILDKIT_INLINE_CACHE=1 gave %s (type=inline %s):\n%s", digestOf(t, byArg), digestOf(t, first), out)
	}
	ib.push(first, ref)
	reg.layerGets(t, first)

	again, out := ib.build(nil, ref, "type=inline", nil)
	if n := strings.Count(out, "CACHED (from "+ref+")"); n != 3 {
		t.Errorf("%d steps from the inline cache, want 3:\n%s", n, out)
	}
	if digestOf(t, again) != digestOf(t, first) {
		t.Errorf("the cached build gave %s, the first %s", digestOf(t, again), digestOf(t, first))
	}
	// A COPY reads the image so far (its destination resolves through the
	// image's symlinks): the layers under a COPY come down once, the last
	// stays in the registry (the push mounts it).
	if got := reg.layerGets(t, first); !reflect.DeepEqual(got, []int{1, 1, 0}) {
		t.Errorf("the cached layers were downloaded %v times, want [1 1 0]", got)
	}

	os.WriteFile(filepath.Join(dir, "b"), []byte("changed"), 0o644)
	changed, out := ib.build(nil, ref, "type=inline", nil)
	if n := strings.Count(out, "CACHED (from "+ref+")"); n != 1 {
		t.Errorf("after a change to b, %d steps from the cache, want 1 (COPY a):\n%s", n, out)
	}
	if digestOf(t, changed) == digestOf(t, first) {
		t.Error("a changed file gave the same image")
	}
	os.WriteFile(filepath.Join(dir, "b"), []byte("b"), 0o644)

	// A bare repository reads REPO:latest's inline cache, as BuildKit.
	ib.push(first, reg.host+"/team/app:latest")
	_, out = ib.build(nil, reg.host+"/team/app", "", nil)
	if n := strings.Count(out, "CACHED (from "); n != 3 {
		t.Errorf("--cache-from REPO: %d steps from REPO:latest, want 3:\n%s", n, out)
	}
}

// An image without an inline cache, or with a damaged one, reuses
// nothing, says why and builds on: never a failure, never a wrong hit.
func TestInlineCacheMissesSaySo(t *testing.T) {
	reg := newRegistry(t)
	dir := t.TempDir()
	mkTree(t, dir, map[string]string{"a": "a", "b": "b"}, nil)
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\nCOPY a /a\nCOPY b /b\n"), 0o644)
	ib := inlineBuild{t: t, dir: dir, rc: testenv.Client(t)}
	plain, _ := ib.build(nil, "", "", nil)
	inline, _ := ib.build(nil, "", "type=inline", nil)
	raw, _ := inline.RawConfigFile()
	steps, _ := readInlineCache(raw)
	// The entries swapped: each key names the other step's layer.
	swapped := []inlineStep{{Key: steps[0].Key, Layers: steps[1].Layers, History: steps[1].History}, {Key: steps[1].Key, Layers: steps[0].Layers, History: steps[0].History}}
	swappedImg, err := addInlineCache(plain, swapped)
	if err != nil {
		t.Fatal(err)
	}
	rawPlain, _ := plain.RawConfigFile()
	garbled, err := config.WithRawConfig(plain, append(rawPlain[:len(rawPlain)-1:len(rawPlain)-1], `,"`+inlineCacheField+`":{"steps":7}}`...))
	if err != nil {
		t.Fatal(err)
	}
	bk, _ := config.WithRawConfig(plain, append(rawPlain[:len(rawPlain)-1:len(rawPlain)-1], `,"`+buildkitCacheField+`":"e30="}`...))
	for name, tc := range map[string]struct {
		img  v1.Image
		says string
	}{
		"plain":    {plain, "no inline cache in its config"},
		"garbled":  {garbled, inlineCacheField},
		"buildkit": {bk, "BuildKit's inline cache"},
		"swapped":  {swappedImg, "has this step's key, not used"},
		"missing":  {nil, "not found"},
	} {
		ref := reg.host + "/team/" + name + ":1"
		if tc.img != nil {
			ib.push(tc.img, ref)
		}
		got, out := ib.build(nil, ref, "", nil)
		if strings.Contains(out, "CACHED") || !strings.Contains(out, tc.says) {
			t.Errorf("%s: want no step cached and a note saying %q:\n%s", name, tc.says, out)
		}
		if digestOf(t, got) != digestOf(t, plain) {
			t.Errorf("%s: built %s, want %s", name, digestOf(t, got), digestOf(t, plain))
		}
	}
}

// Each platform of an index carries its own inline cache, and a build for
// several platforms takes each platform's steps from its own image.
func TestInlineCacheIndex(t *testing.T) {
	reg := newRegistry(t)
	dir := t.TempDir()
	mkTree(t, dir, map[string]string{"a": "a"}, nil)
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\nARG TARGETARCH\nCOPY a /a-$TARGETARCH\n"), 0o644)
	amd, _ := platform.Parse("linux/amd64")
	arm, _ := platform.Parse("linux/arm64")
	rc := testenv.Client(t)
	var out bytes.Buffer
	rep, _ := progress.New("plain", &out)
	o := DockerfileOptions{Context: dir, Platforms: []v1.Platform{amd, arm}, CacheTo: CacheSpec{Type: "inline", Mode: "min"}, Progress: rep}
	first, err := FromDockerfile(context.Background(), testenv.Store(t), rc, o)
	if err != nil {
		t.Fatal(err)
	}
	ref := reg.host + "/team/multi:1"
	if _, err := transfer.PushImage(context.Background(), rc, first.Index, ref, transfer.PushOptions{}); err != nil {
		t.Fatal(err)
	}
	spec, _ := ParseCacheSpec(ref, false)
	o.CacheFrom = []CacheSpec{spec}
	again, err := FromDockerfile(context.Background(), testenv.Store(t), rc, o)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out.String(), "CACHED (from "+ref+")"); n != 2 {
		t.Errorf("%d steps from the index's inline caches, want 2:\n%s", n, out.String())
	}
	d1, _ := first.Digest()
	d2, _ := again.Digest()
	if d1 != d2 {
		t.Errorf("index %s, cached %s", d1, d2)
	}
}

// The config of a --cache-from image is outside input: reading it never
// panics, and what it gives is only well-formed entries.
func FuzzReadInlineCache(f *testing.F) {
	f.Add([]byte(`{"os":"linux","gantry.cache.v1":{"steps":[{"key":"` + key('a') + `","layers":1,"history":1}]}}`))
	f.Add([]byte(`{"gantry.cache.v1":{"steps":null}}`))
	f.Add([]byte(`{"moby.buildkit.cache.v0":"x"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		steps, err := readInlineCache(raw)
		if err != nil && len(steps) > 0 {
			t.Fatalf("an error with entries: %v %+v", err, steps)
		}
		for _, e := range steps {
			if !isCacheKey(e.Key) || e.Layers < 1 || e.History < 1 {
				t.Fatalf("a malformed entry passed: %+v", e)
			}
		}
	})
}

// A config that is JSON null (no engine makes one) is refused, not a panic.
func TestAddInlineCacheToNullConfig(t *testing.T) {
	img, err := config.WithRawConfig(empty.Image, []byte("null"))
	if err != nil {
		t.Fatal(err)
	}
	if out, err := addInlineCache(img, nil); err == nil {
		raw, _ := out.RawConfigFile()
		if _, err := readInlineCache(raw); err != nil {
			t.Errorf("wrote %s, which does not read back: %v", raw, err)
		}
	}
}
