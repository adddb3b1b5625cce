package sandbox

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Isolation is how RUN is kept apart from the machine.
type Isolation string

const (
	// IsolationAuto picks Sandbox where namespaces work, else Container when
	// gantry knows it runs in a container made for the build.
	IsolationAuto Isolation = "auto"
	// IsolationSandbox is gantry's own: namespaces and an overlay.
	IsolationSandbox Isolation = "sandbox"
	// IsolationContainer is kaniko's approach: the container gantry runs
	// in is the isolation; the stage's root filesystem is laid over its own.
	IsolationContainer Isolation = "container"
)

// BuildContainerMarker is a file that gantry's own image carries: the
// container was made to run builds in, and its root filesystem may be
// replaced by the image being built.
const BuildContainerMarker = "/gantry/.build-container"

// ParseIsolation reads --isolation (or GANTRY_ISOLATION); "" is auto.
func ParseIsolation(s string) (Isolation, error) {
	switch Isolation(s) {
	case "", IsolationAuto:
		return IsolationAuto, nil
	case IsolationSandbox, IsolationContainer:
		return Isolation(s), nil
	}
	return "", fmt.Errorf("invalid --isolation %q: use auto, sandbox or container", s)
}

func (iso Isolation) resolve(inContainer bool, why string, buildContainer bool, namespaces func() error) (Isolation, error) {
	switch iso {
	case IsolationSandbox:
		return iso, nil
	case "":
		iso = IsolationAuto
	case IsolationContainer:
		if !inContainer {
			return "", errors.New("--isolation container lays the image over the root filesystem it runs in, and this is not a container (" + why + "): run it only inside a throwaway container, or use --isolation sandbox")
		}
		return iso, nil
	}
	err := namespaces()
	switch {
	case err == nil:
		return IsolationSandbox, nil
	case inContainer && buildContainer:
		return IsolationContainer, nil
	}
	return "", fmt.Errorf("RUN needs an isolation: the sandbox cannot start here (%v); run as root in gantry's image, allow user namespaces (or a container with --security-opt seccomp=unconfined --security-opt apparmor=unconfined --cap-add SYS_ADMIN), or pass --isolation container inside a throwaway container", err)
}

// InContainer tells whether root (a machine's "/") is the root of a
// container, from the marks container engines leave: /.dockerenv (Docker),
// /run/.containerenv (Podman, Buildah), the container variable (systemd's
// convention, set by Podman, LXC and others), a Kubernetes service
// variable, or a container engine's name in /proc/1/cgroup. why says what
// decided it.
func InContainer(root string, getenv func(string) string) (bool, string) {
	for _, mark := range []string{"/.dockerenv", "/run/.containerenv"} {
		if fileExists(filepath.Join(root, mark)) {
			return true, mark + " exists"
		}
	}
	if v := getenv("container"); v != "" {
		return true, "container=" + v
	}
	if getenv("KUBERNETES_SERVICE_HOST") != "" {
		return true, "in a Kubernetes pod"
	}
	if f, err := os.Open(filepath.Join(root, "proc/1/cgroup")); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			for _, engine := range []string{"docker", "kubepods", "containerd", "libpod", "lxc", "buildkit"} {
				if strings.Contains(sc.Text(), engine) {
					return true, "/proc/1/cgroup names " + engine
				}
			}
		}
	}
	return false, "no /.dockerenv, /run/.containerenv, container variable or container cgroup"
}

func fileExists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}
