package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// The reference for Dockerfile semantics is BuildKit (the version .ci/run
// builds), driven by buildctl against the buildkitd at BUILDKIT_HOST. Both
// builders push to the test registry; the comparison reads both images
// back from there.

// refBuild is one build both builders make: a context, a Dockerfile and
// docker-build-style flags (translated for buildctl by buildctlArgs).
type refBuild struct {
	context    string
	dockerfile string   // "": the builders look in context for their default name
	flags      []string // --build-arg, --target, --platform, --label, --network, --add-host, --secret, --ssh
	platform   string   // the platform to read from the pushed images; "" is linux/amd64
}

// buildctlArgs turns the build into buildctl's arguments, pushing to ref.
func (b refBuild) buildctlArgs(ref string) ([]string, error) {
	args := []string{"build", "--progress", "plain", "--frontend", "dockerfile.v0",
		"--local", "context=" + b.context, "--output", "type=image,name=" + ref + ",push=true,registry.insecure=true"}
	if b.dockerfile == "" {
		// Unnamed, as docker build without -f: BuildKit looks for its
		// default name (and falls back to "dockerfile").
		args = append(args, "--local", "dockerfile="+b.context)
	} else {
		args = append(args, "--local", "dockerfile="+filepath.Dir(b.dockerfile), "--opt", "filename="+filepath.Base(b.dockerfile))
	}
	var hosts []string
	for i := 0; i < len(b.flags); i++ {
		flag, value, ok := strings.Cut(b.flags[i], "=")
		if !ok {
			if i+1 >= len(b.flags) {
				return nil, fmt.Errorf("flag %s lacks its value", flag)
			}
			i++
			value = b.flags[i]
		}
		switch flag {
		case "--build-arg":
			args = append(args, "--opt", "build-arg:"+value)
		case "--label":
			args = append(args, "--opt", "label:"+value)
		case "--target":
			args = append(args, "--opt", "target="+value)
		case "--platform":
			args = append(args, "--opt", "platform="+value)
		case "--network":
			args = append(args, "--opt", "force-network-mode="+value)
		case "--add-host":
			h, ip, _ := strings.Cut(value, ":")
			hosts = append(hosts, h+"="+ip)
		case "--secret", "--ssh":
			args = append(args, flag, value)
		default:
			return nil, fmt.Errorf("no buildctl equivalent known for %s", flag)
		}
	}
	if len(hosts) > 0 {
		args = append(args, "--opt", "add-hosts="+strings.Join(hosts, ","))
	}
	return args, nil
}

// gantryArgs are gantry's arguments for the same build, pushing to ref.
func (b refBuild) gantryArgs(ref string) []string {
	args := []string{"build", b.context}
	if b.dockerfile != "" {
		args = append(args, "-f", b.dockerfile)
	}
	return append(append(args, b.flags...), "-t", ref, "--push")
}

// runBuildKit builds with the reference builder; the error holds its log.
func runBuildKit(b refBuild, ref string) error {
	args, err := b.buildctlArgs(ref)
	if err != nil {
		return err
	}
	cmd := exec.Command("buildctl", args...)
	cmd.Env = append(os.Environ(), "BUILDKIT_HOST="+buildkitHost)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("buildctl %s: %v\n%s", strings.Join(args, " "), err, tail(out.String(), 40))
	}
	return nil
}

// runGantry builds with gantry; the error holds its output.
func runGantry(e *env, b refBuild, ref string) error {
	args := b.gantryArgs(ref)
	out, stderr, err := e.run(nil, args...)
	if err != nil {
		return fmt.Errorf("gantry %s: %v\n%s%s", strings.Join(args, " "), err, out, tail(stderr, 40))
	}
	return nil
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{"…"}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

// refTags are the registry names of one comparison's two images; the time
// keeps runs that share a registry apart.
func refTags(name string) (bk, gantry string) {
	tag := fmt.Sprint(time.Now().UnixNano())
	return registry + "/e2e/ref-buildkit/" + name + ":" + tag, registry + "/e2e/ref-gantry/" + name + ":" + tag
}

// pulledImage reads an image from the test registry, for the platform of
// an index ("" is linux/amd64).
func pulledImage(ref, platform string) (v1.Image, error) {
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		return nil, err
	}
	p := v1.Platform{OS: "linux", Architecture: "amd64"}
	if platform != "" {
		pp, err := v1.ParsePlatform(platform)
		if err != nil {
			return nil, err
		}
		p = *pp
	}
	img, err := remote.Image(r, remote.WithPlatform(p))
	if err != nil {
		return nil, fmt.Errorf("read %s from the registry: %w", ref, err)
	}
	return img, nil
}

// compareImages lists how the gantry image differs from BuildKit's: the
// platform and runtime config, then the flattened filesystems.
func compareImages(bkRef, gantryRef, platform string, ignore []string) ([]string, error) {
	want, err := pulledImage(bkRef, platform)
	if err != nil {
		return nil, err
	}
	got, err := pulledImage(gantryRef, platform)
	if err != nil {
		return nil, err
	}
	wc, err := want.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("config of %s: %w", bkRef, err)
	}
	gc, err := got.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("config of %s: %w", gantryRef, err)
	}
	diffs := diffConfig(wc, gc)
	wfs, err := flattenImage(want)
	if err != nil {
		return nil, fmt.Errorf("flatten %s: %w", bkRef, err)
	}
	gfs, err := flattenImage(got)
	if err != nil {
		return nil, fmt.Errorf("flatten %s: %w", gantryRef, err)
	}
	return append(diffs, diffFS(wfs, gfs, "buildkit", "gantry", ignore)...), nil
}

// diffConfig compares every field of the runtime config and the platform;
// an empty list or map is the same as none.
func diffConfig(want, got *v1.ConfigFile) []string {
	var diffs []string
	for _, f := range [][3]string{{"os", want.OS, got.OS}, {"architecture", want.Architecture, got.Architecture}, {"variant", want.Variant, got.Variant}} {
		if f[1] != f[2] {
			diffs = append(diffs, fmt.Sprintf("config %s: buildkit %q, gantry %q", f[0], f[1], f[2]))
		}
	}
	wv, gv := reflect.ValueOf(want.Config), reflect.ValueOf(got.Config)
	for i := 0; i < wv.NumField(); i++ {
		w, g := wv.Field(i).Interface(), gv.Field(i).Interface()
		if isEmpty(wv.Field(i)) && isEmpty(gv.Field(i)) {
			continue
		}
		if !reflect.DeepEqual(w, g) {
			diffs = append(diffs, fmt.Sprintf("config %s: buildkit %s, gantry %s", wv.Type().Field(i).Name, show(w), show(g)))
		}
	}
	return diffs
}

func isEmpty(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Map, reflect.Slice:
		return v.Len() == 0
	}
	return v.IsZero()
}

func show(v any) string {
	if m, ok := v.(map[string]struct{}); ok {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return fmt.Sprintf("%q", keys)
	}
	if p := reflect.ValueOf(v); p.Kind() == reflect.Pointer && !p.IsNil() {
		return fmt.Sprintf("%+v", p.Elem().Interface())
	}
	return fmt.Sprintf("%#v", v)
}

// buildBoth builds dir with BuildKit and with gantry (docker-build-style
// flags in extra) and fails the test for every difference of config or
// filesystem, unless GANTRY_FAILS lists the comparison by its key (then
// it must still differ). The gantry image is also in e's store as the
// returned name.
func buildBoth(t *testing.T, e *env, dir, key string, extra ...string) string {
	t.Helper()
	b := refBuild{context: dir, flags: append([]string{"--build-arg", "BASE=" + baseRef("amd64")}, extra...)}
	bkRef, gRef := refTags(strings.ReplaceAll(key, "/", "-"))
	if err := runBuildKit(b, bkRef); err != nil {
		t.Fatalf("the reference build failed: %v", err)
	}
	if err := runGantry(e, b, gRef); err != nil {
		t.Fatalf("%v", err)
	}
	diffs, err := compareImages(bkRef, gRef, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	expectDiffs(t, key, diffs)
	return gRef
}

// expectDiffs holds a comparison's differences against GANTRY_FAILS: an
// unlisted comparison must match, a listed one must still differ.
func expectDiffs(t *testing.T, key string, diffs []string) {
	t.Helper()
	msg, failed := verdict(key, diffs, gantryFails())
	switch {
	case failed:
		t.Error(msg)
		if len(diffs) > 0 {
			proposeFail(t, key, diffs)
		}
	case msg != "":
		t.Log(msg)
	}
}

// verdict judges a comparison's differences against the GANTRY_FAILS list:
// what to say, and whether the test fails.
func verdict(key string, diffs []string, fails map[string]string) (string, bool) {
	reason, listed := fails[key]
	switch {
	case listed && len(diffs) == 0:
		return fmt.Sprintf("%s now matches BuildKit: remove it from %s (it said: %s)", key, gantryFailsFile, reason), true
	case listed:
		return fmt.Sprintf("%s differs, as %s expects (%s):\n  %s", key, gantryFailsFile, reason, strings.Join(diffs, "\n  ")), false
	case len(diffs) > 0:
		return fmt.Sprintf("%s differs from BuildKit (%d):\n  %s", key, len(diffs), strings.Join(diffs, "\n  ")), true
	}
	return "", false
}

var proposeMu sync.Mutex

// proposeFail appends a GANTRY_FAILS line for an unlisted difference to the
// file GANTRY_E2E_PROPOSE_FAILS names, for whoever lists the differences
// of new cases (after reading them: the line says what, not why).
func proposeFail(t *testing.T, key string, diffs []string) {
	file := os.Getenv("GANTRY_E2E_PROPOSE_FAILS")
	if file == "" {
		return
	}
	summary := strings.Join(diffs[:min(3, len(diffs))], "; ")
	if len(diffs) > 3 {
		summary += fmt.Sprintf("; and %d more", len(diffs)-3)
	}
	summary = strings.Join(strings.Fields(summary), " ")
	if len(summary) > 300 {
		summary = summary[:300] + "…"
	}
	proposeMu.Lock()
	defer proposeMu.Unlock()
	f, err := os.OpenFile(file, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err == nil {
		_, err = fmt.Fprintf(f, "%s: %s\n", key, summary)
		f.Close()
	}
	if err != nil {
		t.Errorf("GANTRY_E2E_PROPOSE_FAILS: %v", err)
	}
}
