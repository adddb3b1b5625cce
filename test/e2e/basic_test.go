package e2e

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// An image Docker made and pushed is pulled by gantry, saved, loaded by
// Docker and run; Docker's image ID is gantry's config digest.
func TestPullSaveDockerLoadRun(t *testing.T) {
	e := newEnv(t)
	out := e.gantry("pull", baseRef("amd64"))
	if lastLine(out) != baseRef("amd64") || !strings.Contains(out, "\nStatus: Downloaded newer image for "+baseRef("amd64")+"\n") {
		t.Fatalf("pull output:\n%s", out)
	}
	pulledDigest := field(out, "Digest")
	remoteDigest := strings.TrimSpace(sh(t, "skopeo", "inspect", "--tls-verify=false", "--format", "{{.Digest}}", "docker://"+baseRef("amd64")))
	if pulledDigest != remoteDigest {
		t.Errorf("gantry pulled %s, registry serves %s", pulledDigest, remoteDigest)
	}

	again := e.gantry("pull", baseRef("amd64"))
	if !strings.Contains(again, "Status: Image is up to date for "+baseRef("amd64")) || field(again, "Digest") != pulledDigest {
		t.Errorf("repeat pull:\n%s", again)
	}

	archive := t.TempDir() + "/busybox.tar"
	tag := "gantry-e2e/roundtrip:1"
	e.gantry("tag", baseRef("amd64"), tag)
	e.gantry("save", tag, "-o", archive)
	sh(t, "docker", "load", "-i", archive)
	t.Cleanup(func() { shErr("docker", "rmi", "-f", tag) })
	if got := sh(t, "docker", "run", "--rm", "--network", "none", tag, "echo", "hello"); strings.TrimSpace(got) != "hello" {
		t.Fatalf("docker run printed %q", got)
	}
	id := strings.TrimSpace(sh(t, "docker", "inspect", "-f", "{{.Id}}", tag))
	config := e.gantry("inspect", "--raw", "config", tag)
	if want := fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(config))); id != want {
		t.Errorf("docker image ID %s, gantry config digest %s", id, want)
	}
	manifest := e.gantry("inspect", "--raw", "manifest", baseRef("amd64"))
	if got := fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(manifest))); got != pulledDigest {
		t.Errorf("raw manifest hashes to %s, pulled digest %s", got, pulledDigest)
	}
	summary := e.gantry("inspect", baseRef("amd64"))
	if field(summary, "Digest") != pulledDigest || field(summary, "Platform") != "linux/amd64" ||
		field(summary, "Cmd") != `["/bin/sh"]` || !strings.Contains(summary, "Layers:") {
		t.Errorf("inspect summary:\n%s", summary)
	}
	for _, args := range [][]string{{"inspect", "--format", "json"}, {"inspect", "--remote", "--format", "json"}} {
		var got struct {
			Name, Digest, MediaType, Platform, Created string
			Config                                     struct {
				Architecture, OS string
				Config           struct{ Cmd []string }
				RootFS           struct {
					DiffIDs []string `json:"diff_ids"`
				}
			}
			Layers []struct {
				Digest, MediaType, CreatedBy string
				Size                         int64
			}
		}
		raw := e.gantry(append(args, baseRef("amd64"))...)
		if err := json.Unmarshal([]byte(raw), &got); err != nil {
			t.Fatalf("gantry %s: %v\n%s", strings.Join(args, " "), err, raw)
		}
		if got.Name != baseRef("amd64") || got.Digest != pulledDigest || got.Platform != "linux/amd64" || got.Created == "" ||
			got.MediaType != "application/vnd.docker.distribution.manifest.v2+json" ||
			got.Config.Architecture != "amd64" || got.Config.OS != "linux" || len(got.Config.Config.Cmd) != 1 ||
			len(got.Layers) != 1 || len(got.Config.RootFS.DiffIDs) != 1 ||
			!strings.HasPrefix(got.Layers[0].Digest, "sha256:") || got.Layers[0].Size <= 0 ||
			got.Layers[0].MediaType != "application/vnd.docker.image.rootfs.diff.tar.gzip" {
			t.Errorf("gantry %s:\n%s", strings.Join(args, " "), raw)
		}
	}
}

// images, tag, rmi and prune manage the store.
func TestImagesTagRmiPrune(t *testing.T) {
	e := newEnv(t)
	e.gantry("pull", baseRef("amd64"))
	e.gantry("pull", "--platform", "linux/arm64", baseRef("multi"))
	e.gantry("tag", baseRef("amd64"), "example.com/x/y:2")
	table := e.gantry("images")
	for _, want := range []string{"REPOSITORY", registry + "/e2e/busybox", "example.com/x/y", "linux/arm64", "linux/amd64"} {
		if !strings.Contains(table, want) {
			t.Errorf("images lacks %q:\n%s", want, table)
		}
	}
	js := e.gantry("images", "--format", "json")
	var list []map[string]any
	if err := json.Unmarshal([]byte(js), &list); err != nil || len(list) != 3 {
		t.Fatalf("images --format json (%v), want 3 images:\n%s", err, js)
	}
	byName := map[string]map[string]any{}
	for _, img := range list {
		for _, key := range []string{"name", "repository", "tag", "digest", "platform", "size", "created"} {
			if _, ok := img[key]; !ok {
				t.Errorf("images --format json: an entry lacks %q: %v", key, img)
			}
		}
		byName[fmt.Sprint(img["name"])] = img
	}
	if y := byName["example.com/x/y:2"]; y == nil || y["repository"] != "example.com/x/y" || y["tag"] != "2" ||
		y["digest"] != byName[baseRef("amd64")]["digest"] || y["platform"] != "linux/amd64" {
		t.Errorf("images --format json: the tag is not the same image as its source:\n%s", js)
	}
	if m := byName[baseRef("multi")]; m == nil || m["platform"] != "linux/arm64" {
		t.Errorf("images --format json: multi pulled for linux/arm64:\n%s", js)
	}
	// Removing one of two names of an image frees nothing.
	if out := e.gantry("rmi", "example.com/x/y:2"); !strings.Contains(out, "Untagged: example.com/x/y:2") {
		t.Errorf("rmi output %q", out)
	}
	if out := e.gantry("prune"); !strings.HasPrefix(out, "Deleted 0 blobs") {
		t.Errorf("prune after removing a second name: %q, want 0 blobs deleted", out)
	}
	if out := e.gantry("images"); strings.Contains(out, "example.com/x/y") {
		t.Errorf("images after rmi:\n%s", out)
	}
	if msg := e.gantryFails("rmi", "example.com/x/y:2"); !strings.Contains(msg, "example.com/x/y:2") {
		t.Errorf("rmi of an unknown name: %s", msg)
	}
	blobs := func() int {
		entries, err := os.ReadDir(filepath.Join(e.root, "blobs", "sha256"))
		if err != nil {
			t.Fatal(err)
		}
		return len(entries)
	}
	before := blobs()
	if out := e.gantry("rmi", baseRef("multi")); !strings.Contains(out, "Untagged: "+baseRef("multi")) {
		t.Errorf("rmi output %q", out)
	}
	out := e.gantry("prune")
	if !strings.HasPrefix(out, "Deleted 3 blobs, freed ") { // the arm64 manifest, config, layer
		t.Errorf("prune after rmi: %q, want 3 blobs deleted", out)
	}
	if after := blobs(); after != before-3 {
		t.Errorf("prune said %q, but the store went from %d to %d blobs", strings.TrimSpace(out), before, after)
	}
	// Still-named images are intact and usable.
	checkStore(t, e.root)
	e.gantry("save", baseRef("amd64"), "-o", t.TempDir()+"/x.tar")
	if out := e.gantry("prune"); !strings.HasPrefix(out, "Deleted 0 blobs") {
		t.Errorf("second prune: %q", out)
	}
}
