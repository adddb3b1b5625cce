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
	dir := t.TempDir()
	for spec, want := range map[string]string{
		"id=a,src=" + file:                    "from-file",
		"id=b,env=GANTRY_TEST_TOKEN":          "from-env",
		"id=GANTRY_TEST_TOKEN":                "from-env",
		"type=env,id=c,src=GANTRY_TEST_TOKEN": "from-env",
	} {
		_, src, err := secretSource(spec, dir)
		if err != nil {
			t.Errorf("%s: %v", spec, err)
			continue
		}
		if b, _ := os.ReadFile(src); string(b) != want {
			t.Errorf("%s: reads %q, want %q", spec, b, want)
		}
	}
	written, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(written) != 3 {
		t.Errorf("secret files written: %v, want one per secret from the environment", written)
	}
	for _, p := range written {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("secret file %s: %v %v", p, fi, err)
		}
	}
	if _, _, err := secretSource("id=d,env=GANTRY_TEST_UNSET", dir); err == nil || !strings.Contains(err.Error(), "GANTRY_TEST_UNSET is not set") {
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
