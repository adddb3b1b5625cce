package main

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/gantry-build/gantry/internal/ptytest"
	"github.com/gantry-build/gantry/pkg/store"
)

// storeWithImage is a store in a temporary folder holding a random
// image, with entrypoint /bin/app --flag, under each of names; it returns
// the store's root and the image.
func storeWithImage(t *testing.T, names ...string) (string, v1.Image) {
	t.Helper()
	root := t.TempDir()
	st, err := store.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	img, err := random.Image(512, 2)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Config.Entrypoint = []string{"/bin/app", "--flag"}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	desc, err := st.WriteImage(context.Background(), img, store.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		if err := st.SetName(name, desc); err != nil {
			t.Fatal(err)
		}
	}
	return root, img
}

// tarNames lists the entries of a tar stream.
func tarNames(t *testing.T, b []byte) []string {
	t.Helper()
	var names []string
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return names
		}
		if err != nil {
			t.Fatalf("not a tar stream: %v", err)
		}
		names = append(names, h.Name)
	}
}

// Without -o, save and export write to standard output when it is not a
// terminal (gantry save IMG > x.tar), and refuse a terminal as docker save
// does.
func TestSaveAndExportToStdout(t *testing.T) {
	root, _ := storeWithImage(t, "example.com/app:1")
	for _, verb := range []string{"save", "export"} {
		var out bytes.Buffer
		cmd := newRootCommand()
		cmd.SetOut(&out)
		cmd.SetArgs([]string{"--root", root, "--progress", "quiet", verb, "example.com/app:1"})
		if err := cmd.Execute(); err != nil {
			t.Fatalf("%s to a pipe: %v", verb, err)
		}
		names := tarNames(t, out.Bytes())
		if verb == "save" && !strings.Contains(strings.Join(names, " "), "manifest.json") {
			t.Errorf("save wrote %v, no manifest.json", names)
		}
		if len(names) == 0 {
			t.Errorf("%s wrote an empty tar", verb)
		}

		term, control, err := ptytest.Open(80, 24)
		if err != nil {
			t.Fatal(err)
		}
		cmd = newRootCommand()
		cmd.SetOut(term)
		cmd.SetArgs([]string{"--root", root, verb, "example.com/app:1"})
		err = cmd.Execute()
		term.Close()
		control.Close()
		if err == nil || err.Error() != "cowardly refusing to save to a terminal. Use the -o flag or redirect" {
			t.Errorf("%s to a terminal: %v", verb, err)
		}
	}
}
