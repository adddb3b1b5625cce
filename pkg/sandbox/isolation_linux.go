package sandbox

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"

	"github.com/gantry-build/gantry/pkg/userns"
)

// Resolve turns auto into the isolation this machine allows, and refuses
// the container isolation outside a container: it would lay an image over
// the root filesystem of a real machine.
func (iso Isolation) Resolve() (Isolation, error) {
	inContainer, why := InContainer("/", os.Getenv)
	return iso.resolve(inContainer, why, fileExists(BuildContainerMarker), namespacesWork)
}

// namespacesWork starts gantry itself (--version) in the namespaces the
// sandbox needs: in a default container (no CAP_SYS_ADMIN, Docker's seccomp
// profile) the kernel refuses.
func namespacesWork() error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command(self, "--version")
	flags := syscall.CLONE_NEWNS | syscall.CLONE_NEWPID | syscall.CLONE_NEWUTS | syscall.CLONE_NEWIPC
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: uintptr(flags)}
	if userns.Rootless() {
		cmd.SysProcAttr.Cloneflags |= syscall.CLONE_NEWUSER
		cmd.SysProcAttr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}}
		cmd.SysProcAttr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}}
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("new namespaces: %v %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}
