package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// gantryIn runs gantry on the store at root and returns stdout.
func gantryIn(t *testing.T, root string, args ...string) (string, error) {
	t.Helper()
	return execute(t, append([]string{"--root", root}, args...)...)
}

// images shows the IMAGE ID (config digest, 12 hex characters), -q lists
// only the IDs, and --format takes Docker's Go templates.
func TestImagesIDsAndTemplates(t *testing.T) {
	root, img := storeWithImage(t, "example.com/app:1")
	cfgDigest, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	id := cfgDigest.Hex[:12]

	out, err := gantryIn(t, root, "images")
	if err != nil || !strings.Contains(strings.SplitN(out, "\n", 2)[0], "IMAGE ID") || !strings.Contains(out, id) {
		t.Errorf("images table: %v\n%s", err, out)
	}
	if out, err := gantryIn(t, root, "images", "-q"); err != nil || out != id+"\n" {
		t.Errorf("images -q = %q, want %q (%v)", out, id+"\n", err)
	}
	if out, err := gantryIn(t, root, "images", "-q", "--no-trunc"); err != nil || out != cfgDigest.String()+"\n" {
		t.Errorf("images -q --no-trunc = %q (%v)", out, err)
	}
	if out, err := gantryIn(t, root, "images", "--format", "{{.Repository}}:{{.Tag}}"); err != nil || out != "example.com/app:1\n" {
		t.Errorf("images --format repo:tag = %q (%v)", out, err)
	}
	out, err = gantryIn(t, root, "images", "--format", "{{json .}}")
	var line map[string]string
	if err != nil || json.Unmarshal([]byte(out), &line) != nil || line["ID"] != id || line["Repository"] != "example.com/app" || line["Platform"] != "linux/amd64" {
		t.Errorf("images --format '{{json .}}' = %q (%v)", out, err)
	}
	out, err = gantryIn(t, root, "images", "--format", `table {{.ID}}\t{{upper .Tag}}`)
	if lines := strings.Split(out, "\n"); err != nil || len(lines) != 3 || strings.Fields(lines[0])[0] != "IMAGE" || strings.Join(strings.Fields(lines[1]), " ") != id+" 1" {
		t.Errorf("images --format 'table …' = %q (%v)", out, err)
	}
	if _, err := gantryIn(t, root, "images", "--format", "{{.Nope"); err == nil || !strings.Contains(err.Error(), "invalid --format template") {
		t.Errorf("a broken template: %v", err)
	}
}

// inspect --format runs Docker's templates on Docker's image inspect shape;
// an image is found by its ID prefix anywhere it is named.
func TestInspectTemplatesAndImageIDs(t *testing.T) {
	root, img := storeWithImage(t, "example.com/app:1")
	cfgDigest, _ := img.ConfigName()
	id := cfgDigest.Hex[:12]
	for format, want := range map[string]string{
		"{{.Config.Entrypoint}}":                        "[/bin/app --flag]\n",
		`{{join .Config.Entrypoint ","}} {{upper .Os}}`: "/bin/app,--flag LINUX\n",
		"{{.Id}}":                     cfgDigest.String() + "\n", // the JSON name, as docker's fallback
		"{{.ID}}":                     cfgDigest.String() + "\n",
		"{{index .RepoTags 0}}":       "example.com/app:1\n",
		`{{json .Config.Entrypoint}}`: `["/bin/app","--flag"]` + "\n",
	} {
		if out, err := gantryIn(t, root, "inspect", "--format", format, id); err != nil || out != want {
			t.Errorf("inspect --format %q = %q, want %q (%v)", format, out, want, err)
		}
	}
	out, err := gantryIn(t, root, "inspect", "--format", "{{json .}}", "example.com/app:1")
	var doc map[string]any
	if err != nil || json.Unmarshal([]byte(out), &doc) != nil || doc["Id"] != cfgDigest.String() || doc["Architecture"] != "amd64" {
		t.Errorf("inspect --format '{{json .}}' = %q (%v)", out, err)
	}

	// Tag and remove by image ID prefix too.
	if _, err := gantryIn(t, root, "tag", id[:8], "example.com/app:2"); err != nil {
		t.Fatalf("tag by ID: %v", err)
	}
	if out, _ := gantryIn(t, root, "images", "--format", "{{.Tag}}"); out != "1\n2\n" {
		t.Errorf("after tag by ID: %q", out)
	}
	if out, err := gantryIn(t, root, "rmi", "sha256:"+id); err != nil || out != "Untagged: example.com/app:1\nUntagged: example.com/app:2\n" {
		t.Errorf("rmi by ID: %q %v", out, err)
	}
}

// A name the store lacks says so, and how to fetch it, for every verb that
// reads the store.
func TestNotInTheLocalStore(t *testing.T) {
	root, _ := storeWithImage(t)
	want := "no such image: example.com/nope:1: it is not in the local store (gantry pull example.com/nope:1 fetches it)"
	for _, args := range [][]string{
		{"inspect", "example.com/nope:1"},
		{"rmi", "example.com/nope:1"},
		{"tag", "example.com/nope:1", "example.com/x:1"},
		{"push", "example.com/nope:1"},
	} {
		if _, err := gantryIn(t, root, args...); err == nil || err.Error() != want {
			t.Errorf("%s: %v\nwant %s", args[0], err, want)
		}
	}
}
