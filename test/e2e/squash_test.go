package e2e

import (
	"os"
	"path/filepath"
	"testing"
)

// build --squash (kaniko's --single-snapshot) gives the same filesystem and
// config as BuildKit's unsquashed build of the same Dockerfile, in one
// layer over the base: deletions of the base's files and of the stage's own
// (whiteouts), content and mode changes, files of a COPY. Docker loads and
// runs it.
func TestSquashMatchesBuildKitInOneLayer(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "f"), []byte("from the context\n"), 0o644)
	df := "ARG BASE\nFROM $BASE\n" +
		"RUN mkdir -p /data/sub && echo one > /data/one && echo two > /data/sub/two && rm /bin/ls\n" +
		"COPY f /data/f\n" +
		"ENV STAGE=squashed\n" +
		"RUN rm -r /data/sub && echo changed > /data/one && chmod 700 /data\n"
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644)
	b := refBuild{context: dir, flags: []string{"--build-arg", "BASE=" + baseRef("amd64")}}
	bkRef, gRef := refTags("squash")
	if err := runBuildKit(b, bkRef); err != nil {
		t.Fatalf("the reference build failed: %v", err)
	}
	b.flags = append(b.flags, "--squash")
	if err := runGantry(e, b, gRef); err != nil {
		t.Fatal(err)
	}
	diffs, err := compareImages(bkRef, gRef, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range diffs {
		t.Error(d)
	}
	base, err := pulledImage(baseRef("amd64"), "")
	if err != nil {
		t.Fatal(err)
	}
	img, err := pulledImage(gRef, "")
	if err != nil {
		t.Fatal(err)
	}
	bl, _ := base.Layers()
	gl, _ := img.Layers()
	if len(gl) != len(bl)+1 {
		t.Errorf("squashed image: %d layers over a base of %d, want one more", len(gl), len(bl))
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	withLayer := 0
	for _, h := range cf.History {
		if !h.EmptyLayer {
			withLayer++
		}
	}
	if withLayer != len(gl) {
		t.Errorf("history: %d entries with a layer, %d layers", withLayer, len(gl))
	}
	sh(t, "docker", "pull", "-q", gRef)
	t.Cleanup(func() { shErr("docker", "rmi", "-f", gRef) })
	if out := sh(t, "docker", "run", "--rm", "--network", "none", gRef, "sh", "-c", "cat /data/one /data/f; ls /data; echo $STAGE; test -e /bin/ls || echo no-ls"); out != "changed\nfrom the context\nf\none\nsquashed\nno-ls\n" {
		t.Errorf("docker run of the squashed image printed %q", out)
	}
}
