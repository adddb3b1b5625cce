package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// gantry's own image, made by image/build.sh and pushed to the test
// registry once for the tests that run it as a CI job would.
var (
	gantryImageOnce sync.Once
	gantryImageRef  string
	gantryImageErr  error
)

func gantryImage(t *testing.T) string {
	t.Helper()
	gantryImageOnce.Do(func() {
		ref := uniqueRepo("gantry-image") + ":ci"
		root := t.TempDir()
		cmd := exec.Command("bash", "../../image/build.sh", ref, "--push")
		cmd.Env = append(os.Environ(), "GANTRY_ROOT="+root, "BUSYBOX_DEBS="+os.Getenv("GANTRY_E2E_DEBS"))
		if out, err := cmd.CombinedOutput(); err != nil {
			gantryImageErr = fmt.Errorf("image/build.sh: %v\n%s", err, out)
			return
		}
		if out, err := exec.Command("docker", "pull", "-q", ref+"-debug").CombinedOutput(); err != nil {
			gantryImageErr = fmt.Errorf("docker pull: %v\n%s", err, out)
			return
		}
		if out, err := exec.Command("docker", "pull", "-q", ref).CombinedOutput(); err != nil {
			gantryImageErr = fmt.Errorf("docker pull: %v\n%s", err, out)
			return
		}
		gantryImageRef = ref
	})
	if gantryImageErr != nil {
		t.Fatal(gantryImageErr)
	}
	return gantryImageRef
}

// ciJob runs gantry's image the way a CI runner or a Kubernetes pod does:
// Docker's default security (no --privileged, no added capabilities, the
// default seccomp profile), the context mounted at /workspace, host
// networking only to reach the loopback test registry.
func ciJob(t *testing.T, image, context string, extra []string, args ...string) (string, error) {
	t.Helper()
	docker := append([]string{"run", "--rm", "--network", "host", "-v", context + ":/workspace"}, extra...)
	docker = append(append(docker, image), args...)
	out, err := exec.Command("docker", docker...).CombinedOutput()
	return string(out), err
}

// In gantry's image under Docker's default security the sandbox cannot
// start, so RUN uses the container as its isolation: the corpus's RUN cases
// give the images BuildKit v0.34.2 gives.
func TestCIContainerIsolationMatchesBuildKit(t *testing.T) {
	img := gantryImage(t)
	for _, name := range []string{"run-whiteouts", "user-by-name", "run-as-user", "dir-perms", "stage-chain", "env-arg", "run-exec-form", "multistage", "add-device-nodes", "run-keeps-owner", "workdir-relative", "copy-into-existing"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir, err := filepath.Abs(filepath.Join("dockerfiles", name))
			if err != nil {
				t.Fatal(err)
			}
			inContainer := uniqueRepo("ciso-"+name) + ":1"
			out, err := ciJob(t, img, dir, nil, "build", "/workspace", "--progress", "plain", "--build-arg", "BASE="+baseRef("amd64"), "-t", inContainer, "--push")
			if err != nil {
				t.Fatalf("build in the container: %v\n%s", err, out)
			}
			if !strings.Contains(out, "RUN") {
				t.Errorf("no RUN step ran in the container:\n%s", out)
			}
			bkRef, _ := refTags("ci-container-" + name)
			if err := runBuildKit(refBuild{context: dir, flags: []string{"--build-arg", "BASE=" + baseRef("amd64")}}, bkRef); err != nil {
				t.Fatalf("the reference build failed: %v", err)
			}
			diffs, err := compareImages(bkRef, inContainer, "", nil)
			if err != nil {
				t.Fatal(err)
			}
			expectDiffs(t, "ci-container/"+name, diffs)
		})
	}
}

// kaniko's GitLab job, unchanged but for the image: the debug image's
// shell runs /kaniko/executor with GitLab's variables; a second runner with
// an empty store takes every step from --cache-repo.
func TestKanikoGitLabJobRunsUnchanged(t *testing.T) {
	img := gantryImage(t) + "-debug"
	ctx := t.TempDir()
	os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte("ARG BASE\nFROM $BASE\nCOPY app.txt /app/\nRUN cp /app/app.txt /app/copied && echo built > /app/run.txt\n"), 0o644)
	os.WriteFile(filepath.Join(ctx, "app.txt"), []byte("app\n"), 0o644)
	repo := uniqueRepo("kaniko-job")
	job := `mkdir -p /kaniko/.docker
echo "{\"auths\":{}}" > /kaniko/.docker/config.json
/kaniko/executor --context "${CI_PROJECT_DIR}" --dockerfile "${CI_PROJECT_DIR}/Dockerfile" \
  --destination "${CI_REGISTRY_IMAGE}:${CI_COMMIT_TAG}" --build-arg BASE=` + baseRef("amd64") + ` \
  --cache=true --cache-repo "${CI_REGISTRY_IMAGE}/cache" --digest-file /workspace/digest`
	env := []string{"-e", "CI_PROJECT_DIR=/workspace", "-e", "CI_REGISTRY_IMAGE=" + repo, "-e", "CI_COMMIT_TAG=v1", "--entrypoint", ""}
	out, err := ciJob(t, img, ctx, env, "/busybox/sh", "-c", job)
	if err != nil {
		t.Fatalf("kaniko's job: %v\n%s", err, out)
	}
	first, _ := os.ReadFile(filepath.Join(ctx, "digest"))
	if !strings.HasPrefix(string(first), "sha256:") {
		t.Fatalf("no digest file: %q\n%s", first, out)
	}
	e := newEnv(t)
	e.gantry("pull", repo+":v1")
	root := filepath.Join(t.TempDir(), "root")
	e.gantry("export", repo+":v1", "--dir", root)
	if b, _ := os.ReadFile(filepath.Join(root, "app/run.txt")); string(b) != "built\n" {
		t.Errorf("the RUN step's file: %q", b)
	}
	// Another runner: a new container, so an empty store.
	out, err = ciJob(t, img, ctx, env, "/busybox/sh", "-c", job)
	if err != nil {
		t.Fatalf("second runner: %v\n%s", err, out)
	}
	if n := strings.Count(out, "CACHED (from "); n != 2 {
		t.Errorf("the second runner took %d steps from --cache-repo, want 2 (COPY, RUN):\n%s", n, out)
	}
	// The steps' layers are in the registry already: the push needs none
	// of their bytes, so the second runner moves none.
	if strings.Contains(out, " started (") {
		t.Errorf("the second runner moved blobs the registry has:\n%s", out)
	}
	if second, _ := os.ReadFile(filepath.Join(ctx, "digest")); string(second) != string(first) {
		t.Errorf("the cached build gave %s, the first %s", second, first)
	}
}

// As an ordinary user in a default container, builds without RUN work; a
// RUN fails with a line that says what is needed.
func TestCIContainerAsNonRoot(t *testing.T) {
	img := gantryImage(t)
	ctx := t.TempDir()
	os.Chmod(ctx, 0o777)
	os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte("ARG BASE\nFROM $BASE\nCOPY f.txt /f.txt\n"), 0o644)
	os.WriteFile(filepath.Join(ctx, "f.txt"), []byte("f\n"), 0o644)
	user := []string{"--user", "1000:1000"}
	if out, err := ciJob(t, img, ctx, user, "build", "/workspace", "--build-arg", "BASE="+baseRef("amd64"), "-t", uniqueRepo("nonroot")+":1", "--push"); err != nil {
		t.Fatalf("a COPY-only build as uid 1000: %v\n%s", err, out)
	}
	os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte("ARG BASE\nFROM $BASE\nRUN true\n"), 0o644)
	out, err := ciJob(t, img, ctx, user, "build", "/workspace", "--build-arg", "BASE="+baseRef("amd64"), "-t", uniqueRepo("nonroot")+":2")
	if err == nil {
		t.Fatalf("RUN as uid 1000 in a default container succeeded:\n%s", out)
	}
	if !strings.Contains(out, "run the container as root") && !strings.Contains(out, "allow user namespaces") {
		t.Errorf("the RUN failure does not say what is needed:\n%s", out)
	}
}

// RUN --mount in the container isolation (binds and caches copied in and
// out, tmpfs as an empty folder, secrets as files or variables): the
// corpus's mount cases give the images BuildKit gives.
func TestCIContainerRunMountsMatchBuildKit(t *testing.T) {
	img := gantryImage(t)
	for _, n := range []string{"mount-cache-user", "mount-rw-cache", "mount-tmpfs", "mount-context", "mount-env-var",
		"mount-cache-default-id", "secrets-file-mount", "secrets-as-environ"} {
		t.Run(n, func(t *testing.T) {
			t.Parallel()
			dir, err := filepath.Abs(filepath.Join(buildkitCases, n))
			if err != nil {
				t.Fatal(err)
			}
			c, err := readCase(dir)
			if err != nil {
				t.Fatal(err)
			}
			b, err := c.build(t, dir)
			if err != nil {
				t.Fatal(err)
			}
			bkRef, gRef := refTags("ci-container-" + n)
			if err := runBuildKit(b, bkRef); err != nil {
				t.Fatalf("the reference build failed: %v", err)
			}
			// Every host path of the command line (context, Dockerfile,
			// secret files) at the same path in the container.
			args := append(b.gantryArgs(gRef), "--progress", "plain")
			var volumes []string
			for _, a := range args {
				for _, field := range strings.Split(a, ",") {
					_, p, _ := strings.Cut(field, "=")
					if p == "" {
						p = field
					}
					if filepath.IsAbs(p) {
						if _, err := os.Stat(p); err == nil {
							if fi, _ := os.Stat(p); !fi.IsDir() {
								p = filepath.Dir(p)
							}
							volumes = append(volumes, "-v", p+":"+p)
						}
					}
				}
			}
			out, err := ciJob(t, img, b.context, volumes, args...)
			if err != nil {
				t.Fatalf("build in the container: %v\n%s", err, out)
			}
			diffs, err := compareImages(bkRef, gRef, "", c.Ignore)
			if err != nil {
				t.Fatal(err)
			}
			expectDiffs(t, "ci-container/"+n, diffs)
		})
	}
}

// RUN --network=none, which the container isolation cannot honour, says so
// in the step's output (and only that step's).
func TestCIContainerSaysNetworkNoneIsNotHonoured(t *testing.T) {
	img := gantryImage(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("ARG BASE\nFROM $BASE\nRUN echo with-network\nRUN --network=none echo without-network\n"), 0o644)
	out, err := ciJob(t, img, dir, nil, "build", "/workspace", "--progress", "plain", "--build-arg", "BASE="+baseRef("amd64"), "-t", "example.com/net:1")
	if err != nil {
		t.Fatalf("build in the container: %v\n%s", err, out)
	}
	if n := strings.Count(out, "cannot take the network away"); n != 1 {
		t.Errorf("the warning is shown %d times, want once (for the --network=none step):\n%s", n, out)
	}
}

// In the container isolation, a step on the tree the last step left in "/"
// lays nothing and unpacks nothing, and a COPY that a RUN follows writes its
// files straight over "/" (kaniko's way): of a stage of a COPY and three RUN
// steps only the base is unpacked in the store's tree cache (once, to be
// laid).
func TestCIContainerRunsOnWhatTheLastStepLeft(t *testing.T) {
	img := gantryImage(t) + "-debug"
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "f"), []byte("f\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("ARG BASE\nFROM $BASE\nCOPY f /in/f\nRUN echo a > /a\nRUN cat /a > /b\nRUN cat /a /b /in/f > /c\n"), 0o644)
	job := "/gantry/gantry --progress plain build /workspace --build-arg BASE=" + baseRef("amd64") + " -t example.com/runs:1 && " +
		"/gantry/gantry export example.com/runs:1 -o /workspace/out.tar && echo trees: $(/busybox/ls /gantry/store/cache/rootfs | /busybox/grep -v -e '^empty$' -e '^[.]' | /busybox/wc -l)"
	out, err := ciJob(t, img, dir, []string{"--entrypoint", ""}, "/busybox/sh", "-c", job)
	if err != nil {
		t.Fatalf("build in the container: %v\n%s", err, out)
	}
	if !strings.Contains(out, "trees: 1\n") {
		t.Errorf("the container isolation unpacked trees besides the base's:\n%s", out)
	}
	root := filepath.Join(t.TempDir(), "root")
	os.MkdirAll(root, 0o755)
	sh(t, "tar", "-xf", filepath.Join(dir, "out.tar"), "-C", root)
	if b, _ := os.ReadFile(filepath.Join(root, "c")); string(b) != "a\na\nf\n" {
		t.Errorf("/c = %q, want the first two steps' output and the copied file", b)
	}
}
