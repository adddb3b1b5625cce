package main

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
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
		"--context s3://bucket/ctx.tar.gz --no-push":      "builds from a folder",
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

// kaniko's git context, git://HOST/PATH#REF[#COMMIT], is cloned over https
// and built: the Dockerfile and files of that ref (or commit), credentials
// from $GIT_USERNAME/$GIT_PASSWORD never in an error.
func TestExecutorGitContext(t *testing.T) {
	work := t.TempDir()
	git := func(dir string, args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	src := filepath.Join(work, "src")
	os.MkdirAll(src, 0o755)
	git(src, "init", "-q", "-b", "main")
	os.WriteFile(filepath.Join(src, "Dockerfile"), []byte("FROM scratch\nCOPY app.txt /\n"), 0o644)
	os.WriteFile(filepath.Join(src, "app.txt"), []byte("first\n"), 0o644)
	git(src, "add", ".")
	git(src, "commit", "-q", "-m", "one")
	first := git(src, "rev-parse", "HEAD")
	os.WriteFile(filepath.Join(src, "app.txt"), []byte("second\n"), 0o644)
	git(src, "commit", "-q", "-am", "two")
	git(src, "checkout", "-q", "-b", "other")
	os.WriteFile(filepath.Join(src, "app.txt"), []byte("other branch\n"), 0o644)
	git(src, "commit", "-q", "-am", "three")
	git(work, "clone", "-q", "--bare", src, filepath.Join(work, "repo.git"))
	git(filepath.Join(work, "repo.git"), "update-server-info")
	srv := httptest.NewTLSServer(http.FileServer(http.Dir(work)))
	defer srv.Close()
	t.Setenv("GIT_SSL_NO_VERIFY", "true") // the test server's own certificate
	host := strings.TrimPrefix(srv.URL, "https://")

	for frag, want := range map[string]string{
		"#refs/heads/main":          "second\n",
		"#other":                    "other branch\n",
		"#refs/heads/main#" + first: "first\n",
	} {
		tarPath := filepath.Join(t.TempDir(), "image.tar")
		if _, err := execute(t, "--root", t.TempDir(), "executor", "--context", "git://"+host+"/repo.git"+frag, "--no-push", "--tar-path", tarPath); err != nil {
			t.Fatalf("%s: %v", frag, err)
		}
		if got := fileInArchive(t, tarPath, "app.txt"); got != want {
			t.Errorf("git context %s: app.txt = %q, want %q", frag, got, want)
		}
	}
	t.Setenv("GIT_USERNAME", "ci")
	t.Setenv("GIT_PASSWORD", "s3cret")
	_, err := execute(t, "--root", t.TempDir(), "executor", "--context", "git://"+host+"/missing.git#main", "--no-push")
	if err == nil || strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "missing.git") {
		t.Errorf("a missing repository: %v", err)
	}
}

// fileInArchive is the content of file name in the one image of a docker
// archive, read from its layers.
func fileInArchive(t *testing.T, archive, name string) string {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for h, err := tr.Next(); err == nil; h, err = tr.Next() {
		if !strings.HasSuffix(h.Name, ".tar") && !strings.HasSuffix(h.Name, "/layer.tar") {
			continue
		}
		layer, _ := io.ReadAll(tr)
		lr := tar.NewReader(bytes.NewReader(layer))
		for lh, err := lr.Next(); err == nil; lh, err = lr.Next() {
			if strings.TrimPrefix(lh.Name, "./") == name {
				b, _ := io.ReadAll(lr)
				return string(b)
			}
		}
	}
	return ""
}
