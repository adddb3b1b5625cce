package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// An inline cache travels in the image: a build whose outputs carry no
// image (a root filesystem, cacheonly) warns that none is written, as
// BuildKit writes none, and builds on; with an image output it is quiet.
func TestInlineCacheWithoutAnImageOutputWarns(t *testing.T) {
	root, dir := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(dir, "f"), []byte("f"), 0o644)
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\nCOPY f /f\n"), 0o644)
	const warning = "no output of this build carries an image"
	for _, tc := range []struct {
		args []string
		warn bool
	}{
		{[]string{"--cache-to", "type=inline", "-o", "type=local,dest=" + filepath.Join(t.TempDir(), "rootfs")}, true},
		{[]string{"--build-arg", "BUILDKIT_INLINE_CACHE=1", "-o", "type=cacheonly"}, true},
		{[]string{"--cache-to", "type=inline", "-o", "type=local,dest=" + filepath.Join(t.TempDir(), "rootfs"), "-t", "example.com/x:1"}, false},
		{[]string{"--cache-to", "type=inline", "-o", "type=oci,dest=" + filepath.Join(t.TempDir(), "oci")}, false},
		{[]string{"-o", "type=cacheonly"}, false},
	} {
		out, err := withStderr(t, func() (string, error) {
			return execute(t, append([]string{"--root", root, "--progress", "plain", "build", dir}, tc.args...)...)
		})
		if err != nil {
			t.Fatalf("%v: %v\n%s", tc.args, err, out)
		}
		if strings.Contains(out, warning) != tc.warn {
			t.Errorf("%v: warned %v, want %v:\n%s", tc.args, !tc.warn, tc.warn, out)
		}
		if strings.Contains(out, "not consumed") {
			t.Errorf("%v: BUILDKIT_INLINE_CACHE called unused:\n%s", tc.args, out)
		}
	}
	if _, err := execute(t, "--root", root, "build", dir, "--cache-to", "type=inline,mode=max", "-t", "example.com/x:1"); err == nil || !strings.Contains(err.Error(), "mode=max") {
		t.Errorf("type=inline,mode=max: %v, want a refusal", err)
	}
}

// withStderr runs f with os.Stderr (where progress goes) in a file, and
// returns f's output followed by what it wrote there.
func withStderr(t *testing.T, f func() (string, error)) (string, error) {
	t.Helper()
	tmp, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer tmp.Close()
	saved := os.Stderr
	os.Stderr = tmp
	out, err := f()
	os.Stderr = saved
	progress, _ := os.ReadFile(tmp.Name())
	return out + string(progress), err
}
