//go:build unix

package dockerfile

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gantry-build/gantry/pkg/layer"
)

// A context source is resolved inside the context (every link followed
// there); what takes its place afterwards is not followed to the host:
// a file swapped for a link to a host file is copied as a link, and an
// ADD archive swapped for one is neither taken for an archive nor read.
func TestContextSourceSwappedForALinkIsNotFollowed(t *testing.T) {
	ctx, host := t.TempDir(), t.TempDir()
	secret := filepath.Join(host, "secret.tar")
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	tw.WriteHeader(&tar.Header{Name: "stolen", Mode: 0o644, Size: 6, Typeflag: tar.TypeReg})
	tw.Write([]byte("SECRET"))
	tw.Close()
	if err := os.WriteFile(secret, tb.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"f", "a.tar"} {
		if err := os.WriteFile(filepath.Join(ctx, n), []byte("mine"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	found, err := sources(ctx, "f", layer.Options{})
	if err != nil || len(found) != 1 {
		t.Fatalf("sources: %v %v", found, err)
	}
	arch, err := sources(ctx, "a.tar", layer.Options{})
	if err != nil || len(arch) != 1 {
		t.Fatalf("sources: %v %v", arch, err)
	}
	for _, n := range []string{"f", "a.tar"} {
		os.Remove(filepath.Join(ctx, n))
		if err := os.Symlink(secret, filepath.Join(ctx, n)); err != nil {
			t.Fatal(err)
		}
	}
	a := found[0].add()
	a.Dest = "/app/"
	es, err := layer.Collect([]layer.Add{a}, layer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 2 || es[1].Mode&os.ModeSymlink == 0 || es[1].Link != secret {
		t.Errorf("the swapped source became %+v, want a link to %s", es, secret)
	}
	if isArchive(arch[0].path) {
		t.Error("a link to a host archive was taken for the ADD's archive")
	}
	if isArchive(ctx) {
		t.Error("a folder was taken for an archive")
	}
	view := newUntarView(t.TempDir(), "dest")
	var out bytes.Buffer
	err = view.untar(tar.NewWriter(&out), arch[0].path, false, 0, 0, time.Unix(0, 0))
	if err == nil || bytes.Contains(out.Bytes(), []byte("SECRET")) {
		t.Errorf("a link to a host archive was unpacked (err %v)", err)
	}
}

// A folder on a resolved source's path swapped for a link to a host folder
// before the layer is listed: the listing refuses, it does not list the
// host's folder.
func TestContextFolderSwappedForALinkIsNotListed(t *testing.T) {
	ctx, host := t.TempDir(), t.TempDir()
	for _, dir := range []string{filepath.Join(ctx, "sub", "pkg"), filepath.Join(host, "pkg")} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "f"), []byte(dir), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	o := layer.Options{ContextRoot: ctx}
	found, err := sources(ctx, "sub/pkg", o)
	if err != nil || len(found) != 1 {
		t.Fatalf("sources: %v %v", found, err)
	}
	if err := os.Rename(filepath.Join(ctx, "sub"), filepath.Join(ctx, "old")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(host, filepath.Join(ctx, "sub")); err != nil {
		t.Fatal(err)
	}
	a := found[0].add()
	a.Dest = "/app/"
	es, err := layer.Collect([]layer.Add{a}, o)
	if err == nil {
		t.Fatalf("listed through the link: %+v", es)
	}
	if !strings.Contains(err.Error(), "changed while the build read it") {
		t.Errorf("err = %v", err)
	}
}
