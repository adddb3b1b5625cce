package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// RUN --mount=type=secret as BuildKit has it: env= exposes the value as a
// variable (no file then, unless a target is given), the file is 0400 root's
// unless mode=, uid=, gid= say otherwise; a secret given from the
// environment never reaches the disk, and no secret reaches the image.
func TestSecretMountsAsBuildKit(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	df := `ARG BASE
FROM $BASE
RUN --mount=type=secret,id=tok,env=TOK sh -c 'echo ${#TOK} > /envlen; test -e /run/secrets/tok && echo file > /nofile || echo nofile > /nofile'
RUN --mount=type=secret,id=tok stat -c '%a %u %g' /run/secrets/tok > /mode
RUN --mount=type=secret,id=tok,target=/s,mode=0440,uid=1,gid=2 stat -c '%a %u %g' /s > /mode2
RUN --mount=type=secret,id=tok,env=BOTH,target=/both sh -c 'echo ${#BOTH} $(cat /both | wc -c) > /both.txt'
`
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644)
	tmp := t.TempDir()
	e.extra = []string{"GANTRY_E2E_TOK=s3cr3t-e2e-value", "TMPDIR=" + tmp}
	out, stderr, err := e.run(nil, "build", dir, "--build-arg", "BASE="+baseRef("amd64"), "--secret", "id=tok,env=GANTRY_E2E_TOK", "-t", "example.com/secrets:1")
	if err != nil {
		t.Fatalf("build: %v\n%s%s", err, out, stderr)
	}
	noSecretValue(t, out, stderr)
	root := filepath.Join(t.TempDir(), "root")
	e.gantry("export", "example.com/secrets:1", "--dir", root)
	for file, want := range map[string]string{"envlen": "16\n", "nofile": "nofile\n", "mode": "400 0 0\n", "mode2": "440 1 2\n", "both.txt": "16 16\n"} {
		if b, _ := os.ReadFile(filepath.Join(root, file)); string(b) != want {
			t.Errorf("/%s = %q, want %q", file, b, want)
		}
	}
	filepath.Walk(tmp, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			if b, _ := os.ReadFile(p); strings.Contains(string(b), "s3cr3t-e2e-value") {
				t.Errorf("the secret reached the disk at %s", p)
			}
		}
		return nil
	})
	tar := filepath.Join(t.TempDir(), "img.tar")
	e.gantry("save", "example.com/secrets:1", "-o", tar)
	if b, _ := os.ReadFile(tar); strings.Contains(string(b), "s3cr3t-e2e-value") {
		t.Error("the secret is in the saved image")
	}
}
