package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// The base images, made offline from Debian's busybox-static:
//
//	REG/e2e/busybox:amd64  made by docker import and docker push
//	REG/e2e/busybox:arm64  made by umoci, pushed by skopeo (docker import
//	                       ignores --platform in Docker 20.10)
//	REG/e2e/busybox:multi  a manifest list of both, made by docker manifest
func baseRef(tag string) string { return registry + "/e2e/busybox:" + tag }

func makeBaseImages(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	debs := os.Getenv("GANTRY_E2E_DEBS")
	if debs == "" {
		debs = dir
		cmd := exec.Command("apt-get", "download", "busybox-static", "busybox-static:arm64")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("apt-get download busybox-static: %v\n%s", err, out)
		}
	}
	for _, arch := range []string{"amd64", "arm64"} {
		matches, _ := filepath.Glob(filepath.Join(debs, "busybox-static_*_"+arch+".deb"))
		if len(matches) == 0 {
			return fmt.Errorf("no busybox-static .deb for %s in %s", arch, debs)
		}
		if err := makeRootfs(matches[0], filepath.Join(dir, arch)); err != nil {
			return err
		}
	}
	steps := [][]string{
		{"docker", "import", "--change", `CMD ["/bin/sh"]`, filepath.Join(dir, "amd64", "rootfs.tar"), baseRef("amd64")},
		{"docker", "push", baseRef("amd64")},
		{"umoci", "init", "--layout", filepath.Join(dir, "oci")},
		{"umoci", "new", "--image", filepath.Join(dir, "oci") + ":arm64"},
		{"umoci", "insert", "--image", filepath.Join(dir, "oci") + ":arm64", filepath.Join(dir, "arm64", "rootfs"), "/"},
		{"umoci", "config", "--image", filepath.Join(dir, "oci") + ":arm64", "--architecture", "arm64", "--os", "linux", "--config.cmd", "/bin/sh"},
		{"skopeo", "copy", "-q", "--format", "v2s2", "--dest-tls-verify=false", "oci:" + filepath.Join(dir, "oci") + ":arm64", "docker://" + baseRef("arm64")},
		{"docker", "manifest", "create", "--amend", "--insecure", baseRef("multi"), baseRef("amd64"), baseRef("arm64")},
		{"docker", "manifest", "push", "--insecure", baseRef("multi")},
	}
	for _, s := range steps {
		if out, err := shErr(s[0], s[1:]...); err != nil {
			return fmt.Errorf("%s: %v %s", strings.Join(s, " "), err, out)
		}
	}
	return nil
}

// makeRootfs unpacks busybox into out/rootfs with the applet links the tests
// use, and tars it as out/rootfs.tar.
func makeRootfs(deb, out string) error {
	x := filepath.Join(out, "x")
	rootfs := filepath.Join(out, "rootfs")
	if err := os.MkdirAll(filepath.Join(rootfs, "bin"), 0o755); err != nil {
		return err
	}
	if o, err := exec.Command("dpkg-deb", "-x", deb, x).CombinedOutput(); err != nil {
		return fmt.Errorf("dpkg-deb -x %s: %v %s", deb, err, o)
	}
	b, err := os.ReadFile(filepath.Join(x, "bin", "busybox"))
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(rootfs, "bin", "busybox"), b, 0o755); err != nil {
		return err
	}
	for _, applet := range []string{"sh", "echo", "cat", "ls", "true"} {
		if err := os.Symlink("busybox", filepath.Join(rootfs, "bin", applet)); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(filepath.Join(rootfs, "tmp"), 0o1777); err != nil {
		return err
	}
	if o, err := exec.Command("tar", "-C", rootfs, "--owner=0", "--group=0", "--numeric-owner", "--sort=name", "--mtime=@946684800", "-cf", filepath.Join(out, "rootfs.tar"), ".").CombinedOutput(); err != nil {
		return fmt.Errorf("tar rootfs: %v %s", err, o)
	}
	return nil
}
