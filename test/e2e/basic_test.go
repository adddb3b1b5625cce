package e2e

import (
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"
)

// An image Docker made and pushed is pulled by gantry, saved, loaded by
// Docker and run; Docker's image ID is gantry's config digest.
func TestPullSaveDockerLoadRun(t *testing.T) {
	e := newEnv(t)
	out := e.gantry("pull", baseRef("amd64"))
	if lastLine(out) != baseRef("amd64") || !strings.Contains(out, "Status: Downloaded newer image") {
		t.Fatalf("pull output:\n%s", out)
	}
	pulledDigest := field(out, "Digest")
	remoteDigest := strings.TrimSpace(sh(t, "skopeo", "inspect", "--tls-verify=false", "--format", "{{.Digest}}", "docker://"+baseRef("amd64")))
	if pulledDigest != remoteDigest {
		t.Errorf("gantry pulled %s, registry serves %s", pulledDigest, remoteDigest)
	}

	again := e.gantry("pull", baseRef("amd64"))
	if !strings.Contains(again, "Status: Image is up to date") {
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
	for _, want := range []string{"Platform:    linux/amd64", `Cmd:         ["/bin/sh"]`, "Layers:"} {
		if !strings.Contains(summary, want) {
			t.Errorf("inspect summary lacks %q:\n%s", want, summary)
		}
	}
	remote := e.gantry("inspect", "--remote", "--format", "json", baseRef("amd64"))
	if !strings.Contains(remote, `"digest": "`+pulledDigest+`"`) {
		t.Errorf("inspect --remote --format json:\n%s", remote)
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
	if !strings.Contains(js, `"tag": "multi"`) || !strings.Contains(js, `"repository": "example.com/x/y"`) {
		t.Errorf("images --format json:\n%s", js)
	}
	if out := e.gantry("rmi", baseRef("multi")); !strings.Contains(out, "Untagged: "+baseRef("multi")) {
		t.Errorf("rmi output %q", out)
	}
	out := e.gantry("prune")
	if !strings.HasPrefix(out, "Deleted 3 blobs") { // the arm64 manifest, config, layer
		t.Errorf("prune after rmi: %q, want 3 blobs deleted", out)
	}
	// Still-named images are intact and usable.
	e.gantry("save", "example.com/x/y:2", "-o", t.TempDir()+"/x.tar")
	if out := e.gantry("prune"); !strings.HasPrefix(out, "Deleted 0 blobs") {
		t.Errorf("second prune: %q", out)
	}
}
