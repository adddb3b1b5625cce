package main

import (
	"archive/tar"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// kaniko's command line builds: a context folder and a Dockerfile found
// relative to it, --no-push with --tar-path writes a docker archive, and the
// digest files name the image as kaniko writes them.
func TestExecutorTakesKanikosCommandLine(t *testing.T) {
	ctx := t.TempDir()
	os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte("FROM scratch\nCOPY hello.txt /\nLABEL built.by=executor\n"), 0o644)
	os.WriteFile(filepath.Join(ctx, "hello.txt"), []byte("hi\n"), 0o644)
	out := t.TempDir()
	tarPath, digestFile := filepath.Join(out, "image.tar"), filepath.Join(out, "digest")
	nameFile := filepath.Join(out, "names")
	if _, err := execute(t, "--root", t.TempDir(), "executor", "--context", "dir://"+ctx, "--dockerfile", "Dockerfile",
		"--destination", "registry.example.com/team/app:1", "--no-push", "--tar-path", tarPath,
		"--digest-file", digestFile, "--image-name-tag-with-digest-file", nameFile,
		"--reproducible", "--snapshot-mode", "redo", "--use-new-run", "--verbosity", "error"); err != nil {
		t.Fatal(err)
	}
	digest, _ := os.ReadFile(digestFile)
	if !strings.HasPrefix(string(digest), "sha256:") {
		t.Errorf("digest file: %q", digest)
	}
	if names, _ := os.ReadFile(nameFile); string(names) != "registry.example.com/team/app:1@"+string(digest)+"\n" {
		t.Errorf("name file: %q", names)
	}
	f, err := os.Open(tarPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	found := false
	tr := tar.NewReader(f)
	for h, err := tr.Next(); err == nil; h, err = tr.Next() {
		found = found || h.Name == "manifest.json"
	}
	if !found {
		t.Error("--tar-path is not a docker archive")
	}
}

// --single-snapshot makes everything the Dockerfile adds one layer: the
// archive holds one layer where the same build without it holds two.
func TestExecutorSingleSnapshot(t *testing.T) {
	ctx := t.TempDir()
	os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte("FROM scratch\nCOPY a /a\nCOPY b /b\n"), 0o644)
	os.WriteFile(filepath.Join(ctx, "a"), []byte("a\n"), 0o644)
	os.WriteFile(filepath.Join(ctx, "b"), []byte("b\n"), 0o644)
	for flag, want := range map[string]int{"--single-snapshot": 1, "--cleanup=false": 2} {
		tarPath := filepath.Join(t.TempDir(), "image.tar")
		if _, err := execute(t, "--root", t.TempDir(), "executor", "--context", ctx, "--no-push", "--tar-path", tarPath, flag); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(tarPath)
		if err != nil {
			t.Fatal(err)
		}
		var manifest []struct{ Layers []string }
		tr := tar.NewReader(f)
		for h, err := tr.Next(); err == nil; h, err = tr.Next() {
			if h.Name == "manifest.json" {
				if err := json.NewDecoder(tr).Decode(&manifest); err != nil {
					t.Fatal(err)
				}
			}
		}
		f.Close()
		if len(manifest) != 1 || len(manifest[0].Layers) != want {
			t.Errorf("%s: manifest %+v, want one image of %d layers", flag, manifest, want)
		}
	}
}

func TestExecutorRefusesWhatItCannotHonour(t *testing.T) {
	ctx := t.TempDir()
	for args, want := range map[string]string{
		"--context " + ctx + " --no-push --kaniko-dir /k": "unknown flag: --kaniko-dir",
		"--context git://github.com/x/y --no-push":        "builds from a folder",
		"--context " + ctx: "--destination",
		"--context " + ctx + " --no-push --verbosity loud": "invalid --verbosity",
	} {
		_, err := execute(t, append([]string{"--root", t.TempDir(), "executor"}, strings.Fields(args)...)...)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", args, err, want)
		}
	}
}

func TestExecutorMode(t *testing.T) {
	for argv0, want := range map[string]bool{"/kaniko/executor": true, "executor": true, "/gantry/gantry": false} {
		if executorMode(argv0) != want {
			t.Errorf("executorMode(%q) = %v", argv0, !want)
		}
	}
}
