package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// --secret as docker buildx reads it: from a file, from a variable, or by
// id alone (the variable of that name, else the file).
func TestSecretSource(t *testing.T) {
	file := filepath.Join(t.TempDir(), "tok")
	os.WriteFile(file, []byte("from-file"), 0o600)
	t.Setenv("GANTRY_TEST_TOKEN", "from-env")
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	for spec, want := range map[string]string{
		"id=a,src=" + file:                    "from-file",
		"id=b,env=GANTRY_TEST_TOKEN":          "from-env",
		"id=GANTRY_TEST_TOKEN":                "from-env",
		"type=env,id=c,src=GANTRY_TEST_TOKEN": "from-env",
	} {
		_, src, _, err := secretSource(spec)
		if err != nil {
			t.Errorf("%s: %v", spec, err)
			continue
		}
		if b, _ := os.ReadFile(src); string(b) != want {
			t.Errorf("%s: reads %q, want %q", spec, b, want)
		}
	}
	// Secrets from the environment are in memory only: nothing was
	// written to a temporary folder (they were, before).
	if written, _ := filepath.Glob(filepath.Join(tmp, "*")); len(written) != 0 {
		t.Errorf("secrets from the environment reached the disk: %v", written)
	}
	_, src, mem, _ := secretSource("id=e,env=GANTRY_TEST_TOKEN")
	defer mem.Close()
	if target, _ := os.Readlink(src); !strings.HasPrefix(target, "/memfd:") {
		t.Errorf("a secret from the environment is at %s (%s), not in memory", src, target)
	}
	if _, _, _, err := secretSource("id=d,env=GANTRY_TEST_UNSET"); err == nil || !strings.Contains(err.Error(), "GANTRY_TEST_UNSET is not set") {
		t.Errorf("an unset variable: %v", err)
	}
}

// A verb that makes an image holds prune off from its start until the image
// is stored (prune in the gap between the build and the store deleted the
// new layers: "blob … not found").
func TestMakerHoldsPruneOff(t *testing.T) {
	g := &globals{root: t.TempDir(), progress: "quiet"}
	m, err := g.newMaker("")
	if err != nil {
		t.Fatal(err)
	}
	pruned := make(chan error, 1)
	go func() {
		_, err := m.st.Prune()
		pruned <- err
	}()
	select {
	case <-pruned:
		t.Fatal("prune ran while an image was being made")
	case <-time.After(300 * time.Millisecond):
	}
	m.close()
	select {
	case err := <-pruned:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("prune still waits after the image was stored")
	}
}
