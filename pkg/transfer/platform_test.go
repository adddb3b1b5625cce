package transfer

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/gantry-build/gantry/pkg/archive"
	"github.com/gantry-build/gantry/pkg/registry"
)

var (
	arm64 = &v1.Platform{OS: "linux", Architecture: "arm64"}
	s390x = &v1.Platform{OS: "linux", Architecture: "s390x"}
)

// --platform is never answered with another platform: a single-platform
// image for amd64 is not an arm64 image (Docker refuses it the same way).
func TestPullPlatformOfASinglePlatformImageMustMatch(t *testing.T) {
	reg := newTestRegistry(t)
	reg.push(t, "app/amd:1", randomImage(t, "amd64"))
	st, rc := newStore(t), fastClient(t, registry.Config{})
	ref := reg.host() + "/app/amd:1"
	_, err := Pull(context.Background(), st, rc, ref, PullOptions{Platform: arm64})
	if err == nil || !strings.Contains(err.Error(), "was found but does not match the specified platform: wanted linux/arm64") ||
		!strings.Contains(err.Error(), "actual: linux/amd64") {
		t.Fatalf("err = %v, want Docker's platform mismatch error", err)
	}
	if entries, _ := st.List(); len(entries) != 0 {
		t.Errorf("stored: %+v", entries)
	}
	if _, err := Pull(context.Background(), st, rc, ref, PullOptions{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}); err != nil {
		t.Errorf("the matching platform: %v", err)
	}
	// Stored now: asking again for arm64 is still refused, not "up to date".
	if _, err := Pull(context.Background(), st, rc, ref, PullOptions{Platform: arm64}); err == nil {
		t.Error("a stored amd64 image was given for arm64")
	}
}

func multiIndex(t *testing.T) v1.ImageIndex {
	return mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: randomImage(t, "amd64"), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: randomImage(t, "arm64"), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}}},
	)
}

// A whole index stored by --all-platforms answers --platform only for the
// platforms it has.
func TestPullPlatformAfterAllPlatformsMustBeInTheIndex(t *testing.T) {
	reg := newTestRegistry(t)
	idx := multiIndex(t)
	reg.pushIndex(t, "app/multi:1", idx)
	st, rc := newStore(t), fastClient(t, registry.Config{})
	ref := reg.host() + "/app/multi:1"
	if _, err := Pull(context.Background(), st, rc, ref, PullOptions{AllPlatforms: true}); err != nil {
		t.Fatal(err)
	}
	res, err := Pull(context.Background(), st, rc, ref, PullOptions{Platform: s390x})
	if err == nil || !strings.Contains(err.Error(), "linux/s390x") {
		t.Fatalf("pull --platform linux/s390x after --all-platforms: %+v, %v", res, err)
	}
	if res, err := Pull(context.Background(), st, rc, ref, PullOptions{Platform: arm64}); err != nil || !res.UpToDate {
		t.Errorf("a platform the stored index has: %+v, %v", res, err)
	}
	e, err := Resolve(st, ref)
	idxDigest, _ := idx.Digest()
	if err != nil || e.Descriptor.Digest != idxDigest {
		t.Errorf("the name no longer holds the index: %+v, %v", e, err)
	}
}

// save --platform does not write another platform's image.
func TestSavePlatformMustMatch(t *testing.T) {
	reg := newTestRegistry(t)
	reg.push(t, "app/amd:1", randomImage(t, "amd64"))
	reg.pushIndex(t, "app/multi:1", multiIndex(t))
	st, rc := newStore(t), fastClient(t, registry.Config{})
	ctx := context.Background()
	if _, err := Pull(ctx, st, rc, reg.host()+"/app/amd:1", PullOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Pull(ctx, st, rc, reg.host()+"/app/multi:1", PullOptions{AllPlatforms: true}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		arg    string
		want   *v1.Platform
		format string
	}{
		{reg.host() + "/app/amd:1", arm64, "docker"},
		{reg.host() + "/app/amd:1", arm64, "oci"},
		{reg.host() + "/app/multi:1", s390x, "docker"},
		{reg.host() + "/app/multi:1", s390x, "oci"},
	} {
		var buf bytes.Buffer
		err := Save(ctx, st, &buf, []string{tc.arg}, SaveOptions{SaveOptions: archive.SaveOptions{Format: tc.format, Platform: tc.want}})
		if err == nil || !strings.Contains(err.Error(), tc.want.Architecture) {
			t.Errorf("save %s --platform %s --format %s: %v, want a refusal", tc.arg, tc.want.Architecture, tc.format, err)
		}
	}
	var buf bytes.Buffer
	if err := Save(ctx, st, &buf, []string{reg.host() + "/app/multi:1"}, SaveOptions{SaveOptions: archive.SaveOptions{Platform: arm64}}); err != nil {
		t.Errorf("save of a platform the index has: %v", err)
	}
}

// Every verb that opens a stored image for --platform (build --from,
// export, inspect, from) gets an error, not a single-platform image of
// another platform.
func TestImageOfRefusesAnotherPlatform(t *testing.T) {
	reg := newTestRegistry(t)
	reg.push(t, "app/amd:1", randomImage(t, "amd64"))
	st := newStore(t)
	if _, err := Pull(context.Background(), st, fastClient(t, registry.Config{}), reg.host()+"/app/amd:1", PullOptions{}); err != nil {
		t.Fatal(err)
	}
	e, err := Resolve(st, reg.host()+"/app/amd:1")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := ImageOf(st, e, arm64); !errors.Is(err, ErrPlatformMismatch) || !strings.Contains(err.Error(), "linux/amd64") {
		t.Errorf("ImageOf(amd64 image, arm64) = %v", err)
	}
	if _, _, err := ImageOf(st, e, &v1.Platform{OS: "linux", Architecture: "amd64"}); err != nil {
		t.Errorf("ImageOf(amd64 image, amd64) = %v", err)
	}
	if _, _, err := ImageOf(st, e, nil); err != nil {
		t.Errorf("ImageOf(amd64 image, no platform) = %v", err)
	}
}
