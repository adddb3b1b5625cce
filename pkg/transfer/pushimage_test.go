package transfer

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/gantry-build/gantry/pkg/registry"
)

// A built image whose base is read from another repository of the same
// registry goes up through the same push path as gantry push: the base's
// layers are mounted (never downloaded nor uploaded), only the new layer and
// the config are sent, and every blob is reported.
func TestPushImageMountsRemoteBaseLayers(t *testing.T) {
	reg := newTestRegistry(t)
	base := randomImage(t, "amd64")
	reg.push(t, "lib/base:1", base)
	rc := fastClient(t, registry.Config{})
	ctx := context.Background()

	remoteBase, err := remote.Image(mustRef(t, reg.host()+"/lib/base:1"))
	if err != nil {
		t.Fatal(err)
	}
	added, err := random.Layer(1024, "application/vnd.docker.image.rootfs.diff.tar.gzip")
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(remoteBase, added)
	if err != nil {
		t.Fatal(err)
	}
	reg.reset()
	rep := newRecorder()
	res, err := PushImage(ctx, rc, img, reg.host()+"/team/app:1", PushOptions{Progress: rep})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()
	if res.Digest != want {
		t.Errorf("pushed %s, want %s", res.Digest, want)
	}
	baseLayers, _ := base.Layers()
	for _, l := range baseLayers {
		d, _ := l.Digest()
		// ggcr's registry shares blobs between repositories, so HEAD finds
		// them ("exists"); a distribution registry answers the mount.
		if why := rep.skips[d.String()]; why != "exists" && !strings.HasPrefix(why, "mounted from lib/base") {
			t.Errorf("base layer %s: %q, want mounted from lib/base (or exists)", d, why)
		}
		if got := reg.requests("GET /v2/lib/base/blobs/" + d.String()); len(got) != 0 {
			t.Errorf("base layer %s was downloaded to be pushed: %v", d, got)
		}
	}
	if puts := reg.requests("PUT /v2/team/app/blobs/uploads"); len(puts) != 2 {
		t.Errorf("%d blobs uploaded, want 2 (the new layer and the config): %v", len(puts), puts)
	}
	if _, err := remote.Image(mustRef(t, reg.host()+"/team/app:1")); err != nil {
		t.Errorf("the pushed image cannot be read back: %v", err)
	}
}

// A push of what the tag already names (a rebuild that changed nothing)
// asks for the tag once and sends nothing: the registry that took that
// manifest has every blob it names. Another image to the same tag goes up.
func TestPushOfWhatTheTagHasSendsNothing(t *testing.T) {
	reg := newTestRegistry(t)
	rc := fastClient(t, registry.Config{})
	ctx := context.Background()
	img := randomImage(t, "amd64")
	dest := reg.host() + "/team/app:1"
	if _, err := PushImage(ctx, rc, img, dest, PushOptions{}); err != nil {
		t.Fatal(err)
	}
	reg.reset()
	rep := newRecorder()
	res, err := PushImage(ctx, rc, img, dest, PushOptions{Progress: rep})
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := img.Digest(); res.Digest != want {
		t.Errorf("pushed %s, want %s", res.Digest, want)
	}
	asked := reg.requests("/v2/team/app/")
	if len(asked) != 1 || !strings.HasPrefix(asked[0], "HEAD /v2/team/app/manifests/1") {
		t.Errorf("requests to the repository: %v, want only HEAD of the tag's manifest", asked)
	}
	layers, _ := img.Layers()
	for _, l := range layers {
		d, _ := l.Digest()
		if why := rep.skips[d.String()]; why != "exists" {
			t.Errorf("layer %s reported %q, want exists", d, why)
		}
	}

	other := randomImage(t, "amd64")
	reg.reset()
	if _, err := PushImage(ctx, rc, other, dest, PushOptions{}); err != nil {
		t.Fatal(err)
	}
	if puts := reg.requests("PUT /v2/team/app/manifests/1"); len(puts) != 1 {
		t.Errorf("another image to the same tag: manifest puts %v", puts)
	}
	got, err := remote.Image(mustRef(t, dest))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := other.Digest()
	if g, _ := got.Digest(); g != want {
		t.Errorf("the tag names %s, want the other image", g)
	}
}

// A build --push reads its base from a registry and pushes to the same
// one: the registry is pinged (GET /v2/) once, for the first of the two.
func TestPushAfterPullPingsOnce(t *testing.T) {
	reg := newTestRegistry(t)
	reg.push(t, "lib/base:1", randomImage(t, "amd64"))
	reg.reset()
	pushAfterPull(t, reg, fastClient(t, registry.Config{}))
	if n := pings(reg); n != 1 {
		t.Errorf("%d pings of one registry: %v", n, reg.requests(""))
	}
}

// The remembered ping of a registry that wants credentials is its 401 and
// challenge: the push after the pull still signs in from it, at the token
// service the challenge names (one ping; no request but the ping is sent
// without a token).
func TestPushAfterPullSignsInFromTheRememberedChallenge(t *testing.T) {
	reg := newTestRegistry(t)
	reg.push(t, "lib/base:1", randomImage(t, "amd64"))
	reg.reset()
	signIn := "Basic " + base64.StdEncoding.EncodeToString([]byte("ci:pa55"))
	var mu sync.Mutex
	var anonymous []string
	reg.hook = func(w http.ResponseWriter, r *http.Request) bool {
		switch {
		case r.URL.Path == "/token" && r.Header.Get("Authorization") == signIn:
			fmt.Fprint(w, `{"token":"t0k"}`)
			return true
		case r.URL.Path == "/token":
			http.Error(w, "wrong credentials", http.StatusUnauthorized)
			return true
		case r.Header.Get("Authorization") == "Bearer t0k":
			return false
		case r.URL.Path != "/v2/":
			mu.Lock()
			anonymous = append(anonymous, r.Method+" "+r.URL.Path)
			mu.Unlock()
		}
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="%s/token",service="test"`, reg.URL))
		http.Error(w, `{"errors":[{"code":"UNAUTHORIZED"}]}`, http.StatusUnauthorized)
		return true
	}
	rc, err := registry.New(registry.Options{Keychain: staticKeychain{authn.FromConfig(authn.AuthConfig{Username: "ci", Password: "pa55"})}})
	if err != nil {
		t.Fatal(err)
	}
	pushAfterPull(t, reg, rc)
	mu.Lock()
	defer mu.Unlock()
	if len(anonymous) != 0 {
		t.Errorf("requests sent without credentials: %v", anonymous)
	}
	if n := pings(reg); n != 1 {
		t.Errorf("%d pings of one registry: %v", n, reg.requests(""))
	}
}

// pushAfterPull reads lib/base:1 from reg with rc and pushes it to
// team/app:1 with the same client, as a build --push does.
func pushAfterPull(t *testing.T, reg *testRegistry, rc *registry.Client) {
	t.Helper()
	ctx := context.Background()
	base, err := rc.Get(ctx, mustRef(t, reg.host()+"/lib/base:1"))
	if err != nil {
		t.Fatal(err)
	}
	img, err := base.Image()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := PushImage(ctx, rc, img, reg.host()+"/team/app:1", PushOptions{}); err != nil {
		t.Fatalf("push after pull: %v", err)
	}
}

// pings is how many times reg was pinged (GET /v2/).
func pings(reg *testRegistry) int {
	n := 0
	for _, r := range reg.requests("GET /v2/") {
		if r == "GET /v2/" {
			n++
		}
	}
	return n
}

// staticKeychain gives the same credentials for every registry.
type staticKeychain struct{ auth authn.Authenticator }

func (k staticKeychain) Resolve(authn.Resource) (authn.Authenticator, error) { return k.auth, nil }
