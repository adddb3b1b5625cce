package main

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"unicode"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/gantry-build/gantry/pkg/store"
)

const hostileText = "ok\nFAKE forged\x1b[31m\x1b]0;title\x07\u009b2J\u202e"

func terminalUnsafe(out string) (rune, bool) {
	for _, r := range out {
		if r != '\n' && r != ' ' && !unicode.IsPrint(r) {
			return r, true
		}
	}
	return 0, false
}

// storeHostileImage stores an image whose config platform and whose one
// file's name carry hostileText, named example.com/hostile:1.
func storeHostileImage(t *testing.T, root string) {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "evil" + hostileText, Mode: 0o644, Typeflag: tar.TypeReg})
	tw.Close()
	b := buf.Bytes()
	l, err := tarball.LayerFromReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, l)
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = "linux", "amd64", hostileText
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	d, err := st.WriteImage(context.Background(), img, store.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SetName("example.com/hostile:1", d); err != nil {
		t.Fatal(err)
	}
}

func runGantry(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newRootCommand()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

// What an image says reaches the terminal escaped in every listing.
func TestListingsEscapeWhatTheImageSays(t *testing.T) {
	root := t.TempDir()
	storeHostileImage(t, root)
	t.Setenv("HOME", t.TempDir())
	for _, args := range [][]string{
		{"images"}, {"images", "--format", "json"},
		{"inspect", "example.com/hostile:1"}, {"inspect", "--format", "json", "example.com/hostile:1"},
		{"diff", "example.com/hostile:1"}, {"diff", "--format", "json", "example.com/hostile:1"},
	} {
		out, err := runGantry(t, append([]string{"--root", root}, args...)...)
		if err != nil {
			t.Errorf("%v: %v", args, err)
			continue
		}
		if c, bad := terminalUnsafe(out); bad {
			t.Errorf("%v prints %q:\n%s", args, c, out)
		}
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(strings.TrimSpace(l), "FAKE") {
				t.Errorf("%v: the image forged the line %q", args, l)
			}
		}
	}
}

// An error gantry prints drives nothing, and what it quotes cannot pass
// for a line of gantry's own: every line after the first is indented.
func TestErrorTextIsEscaped(t *testing.T) {
	got := errorText(errors.New("registry says: " + hostileText))
	for i, line := range strings.Split(strings.TrimSuffix(got, "\n"), "\n") {
		if c, bad := terminalUnsafe(line); bad {
			t.Errorf("line %d %q holds %q", i, line, c)
		}
		if i > 0 && !strings.HasPrefix(line, "  ") {
			t.Errorf("line %d %q is not indented: it could pass for gantry's own", i, line)
		}
	}
	if !strings.HasPrefix(got, "gantry: registry says: ok") {
		t.Errorf("errorText = %q", got)
	}
}
