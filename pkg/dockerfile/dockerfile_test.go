package dockerfile

import (
	"archive/tar"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/gantry-build/gantry/internal/testenv"
	"github.com/gantry-build/gantry/pkg/platform"
)

// A Dockerfile named Dockerfile (the default, or given so) that is missing
// falls back to "dockerfile" beside it, as BuildKit's dockerui does
// (moby/moby#10858); another name does not.
func TestLowercaseDockerfileFallback(t *testing.T) {
	dir := t.TempDir()
	mkTree(t, dir, map[string]string{"f": "f"}, nil)
	if err := os.WriteFile(filepath.Join(dir, "dockerfile"), []byte("FROM scratch\nCOPY f /lower\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	st, rc := testenv.Store(t), testenv.Client(t)
	for _, df := range []string{"", filepath.Join(dir, "Dockerfile")} {
		if _, err := FromDockerfile(context.Background(), st, rc, DockerfileOptions{Context: dir, Dockerfile: df}); err != nil {
			t.Errorf("-f %q with only a lower-case dockerfile: %v", df, err)
		}
	}
	_, err := FromDockerfile(context.Background(), st, rc, DockerfileOptions{Context: dir, Dockerfile: filepath.Join(dir, "Other")})
	if err == nil || !strings.Contains(err.Error(), "no Dockerfile at") {
		t.Errorf("-f Other: %v, want no Dockerfile", err)
	}
}

// The target platform as BuildKit has it (containerd's normal form): an
// arm64 image has no variant, TARGETPLATFORM is linux/arm64; an OS version
// is the config's os.version and TARGETOSVERSION, and a Windows scratch
// stage starts in \ with no default PATH.
func TestTargetPlatformForms(t *testing.T) {
	dir := t.TempDir()
	mkTree(t, dir, map[string]string{"f": "f"}, nil)
	df := "FROM scratch\nARG TARGETPLATFORM TARGETOSVERSION TARGETVARIANT\nCOPY f /p-$TARGETPLATFORM-v$TARGETOSVERSION-$TARGETVARIANT\n"
	for spec, w := range map[string]struct{ os, version, variant, wd, file string }{
		"linux/arm64":          {"linux", "", "", "/", "p-linux/arm64-v-"},
		"linux/arm64/v8":       {"linux", "", "", "/", "p-linux/arm64-v-"},
		"windows(1.2.3)/amd64": {"windows", "1.2.3", "", `\`, "p-windows(1.2.3)/amd64-v1.2.3-"},
		"linux/arm/v6":         {"linux", "", "v6", "/", "p-linux/arm/v6-v-v6"},
	} {
		p, err := platform.Parse(spec)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644)
		res, err := FromDockerfile(context.Background(), testenv.Store(t), testenv.Client(t), DockerfileOptions{Context: dir, Platforms: []v1.Platform{p}})
		if err != nil {
			t.Fatal(err)
		}
		cf, err := res.Image.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if cf.OS != w.os || cf.OSVersion != w.version || cf.Variant != w.variant || cf.Config.WorkingDir != w.wd {
			t.Errorf("%s: config os %q os.version %q variant %q workdir %q, want %+v", spec, cf.OS, cf.OSVersion, cf.Variant, cf.Config.WorkingDir, w)
		}
		if (w.os == "windows") != (cf.Config.Env == nil) {
			t.Errorf("%s: env %v", spec, cf.Config.Env)
		}
		files := map[string]bool{}
		tr := tar.NewReader(mutate.Extract(res.Image))
		for h, err := tr.Next(); err == nil; h, err = tr.Next() {
			files[strings.TrimSuffix(h.Name, "/")] = true
		}
		if !files[w.file] {
			t.Errorf("%s: files %v, want %s", spec, files, w.file)
		}
	}
}

// The result's config names its platform in containerd's normal form, as
// BuildKit's dispatch ends (platforms.Normalize): a base image that says
// arm64/v8 gives an arm64 image without a variant.
func TestResultPlatformNormalized(t *testing.T) {
	for in, want := range map[[3]string][3]string{
		{"linux", "arm64", "v8"}: {"linux", "arm64", ""},
		{"linux", "aarch64", ""}: {"linux", "arm64", ""},
		{"linux", "arm", ""}:     {"linux", "arm", "v7"},
		{"linux", "amd64", ""}:   {"linux", "amd64", ""},
		{"", "", ""}:             {"", "", ""},
	} {
		cf := &v1.ConfigFile{OS: in[0], Architecture: in[1], Variant: in[2]}
		normalizePlatform(cf)
		if got := [3]string{cf.OS, cf.Architecture, cf.Variant}; got != want {
			t.Errorf("%v: %v, want %v", in, got, want)
		}
	}
}

// A stage FROM --platform=$BUILDPLATFORM runs its RUN steps for the build
// platform, whatever the target (BuildKit's dispatchState platform); a
// stage built on it inherits its platform; TARGETPLATFORM stays the target.
func TestStagePlatformRunsRun(t *testing.T) {
	dir := t.TempDir()
	target, _ := platform.Parse("darwin/ppc64le")
	for df, cannot := range map[string]bool{
		"FROM scratch\nRUN true\n":                                        true,
		"FROM --platform=$BUILDPLATFORM scratch\nRUN true\n":              false,
		"FROM --platform=$BUILDPLATFORM scratch AS b\nFROM b\nRUN true\n": false,
	} {
		os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644)
		_, err := FromDockerfile(context.Background(), testenv.Store(t), testenv.Client(t), DockerfileOptions{Context: dir, Platforms: []v1.Platform{target}})
		if err == nil {
			t.Fatalf("%q: RUN true in an empty image built", df)
		}
		if got := strings.Contains(err.Error(), "cannot RUN for darwin/ppc64le"); got != cannot {
			t.Errorf("%q: %v; want a refusal for darwin/ppc64le: %v", df, err, cannot)
		}
	}
}
