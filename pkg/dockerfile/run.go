package dockerfile

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/gantry-build/gantry/pkg/config"
	"github.com/gantry-build/gantry/pkg/layer"
	"github.com/gantry-build/gantry/pkg/platform"
	"github.com/gantry-build/gantry/pkg/progress"
	"github.com/gantry-build/gantry/pkg/rootfs"
	"github.com/gantry-build/gantry/pkg/sandbox"
	"github.com/gantry-build/gantry/pkg/userns"
)

// runCommand runs RUN in the sandbox over the stage's unpacked root
// filesystem; the overlay's upper directory becomes the new layer.
func (s *stageState) runCommand(label string, in *instructions.RunCommand) error {
	b := s.b
	if err := checkRunFlags(in); err != nil {
		return err
	}
	// Expanding a RUN only parses its --mount flags ($VARS in them included);
	// the command itself is the shell's to expand.
	if err := in.Expand(s.expand); err != nil {
		return err
	}
	args, script := runArgs(in, s.conf.File.Config.Shell)
	network := b.runNetwork(in)
	if network != instructions.NetworkDefault && network != instructions.NetworkHost && network != instructions.NetworkNone {
		return fmt.Errorf("RUN --network=%s: use default, host or none", network)
	}
	ms, err := s.runMounts(in)
	defer ms.cleanup()
	if err != nil {
		return err
	}
	if script != nil {
		// A shebang heredoc runs as a file, mounted read-only where
		// BuildKit mounts it.
		dir, err := os.MkdirTemp(b.st.TempDir(), "heredoc-*")
		if err != nil {
			return err
		}
		ms.temps = append(ms.temps, dir)
		if err := os.WriteFile(filepath.Join(dir, script.name), []byte(script.data), 0o755); err != nil {
			return err
		}
		if err := os.Chmod(filepath.Join(dir, script.name), 0o755); err != nil {
			return err
		}
		ms.mounts = append(ms.mounts, sandbox.Mount{Type: "bind", Source: dir, Target: strings.TrimSuffix(pipesDir, "/"), ReadOnly: true})
	}
	err = s.cachedLayer(label, fixedKey(s.stepKey(in, "network="+network+b.runKey(), ms.key)), "RUN "+strings.Join(args, " "), func() (layer.Built, error) {
		// Checked only when the step runs: a cached step needs no emulator.
		emulator, err := sandbox.CanExec(s.platform)
		if err != nil {
			return layer.Built{}, err
		}
		iso, err := b.isolation()
		if err != nil {
			return layer.Built{}, err
		}
		var lower string
		if iso == sandbox.IsolationContainer {
			// "/" is the step's tree (laid there unless the last step left
			// it), and the container's root is one: RUN steps of stages
			// built at the same time take turns in it.
			b.hostMu.Lock()
			defer b.hostMu.Unlock()
			lower, err = s.layContainerRoot()
		} else {
			lower, err = s.rootDir()
		}
		if err != nil {
			return layer.Built{}, err
		}
		upper, err := os.MkdirTemp(b.st.TempDir(), "run-*")
		if err != nil {
			return layer.Built{}, err
		}
		defer os.RemoveAll(upper)
		if err := os.Chmod(upper, 0o755); err != nil { // the overlay's root takes the upper dir's mode
			return layer.Built{}, err
		}
		// setgroups is denied where only the caller's id is mapped.
		proc, err := rootfs.ProcessFor(lower, s.conf.File.Config.User, s.runEnv(), config.DefaultPath, !userns.Rootless())
		if err != nil {
			return layer.Built{}, err
		}
		env := append(proc.Env, ms.env...)
		tail := &lastLines{max: 10}
		id, _, _ := strings.Cut(label, " ")
		logs := progress.LogWriter(b.o.Progress, id)
		defer logs.Close()
		out := io.MultiWriter(logs, tail)
		if emulator != "" {
			b.o.Progress.Log(id, fmt.Sprintf("%s runs under emulation (%s): slower than native", platform.String(s.platform), emulator))
		}
		hosts, err := b.hostsFile()
		if err != nil {
			return layer.Built{}, err
		}
		spec := sandbox.Spec{Lower: lower, Upper: upper, Args: args, Env: env, Dir: s.workdir(), UID: proc.UID, GID: proc.GID, Groups: proc.Groups, Network: network, Shared: b.network, Mounts: ms.mounts, HostsFile: hosts, Hostname: b.sandboxHostname(), Ulimits: b.o.Ulimits, Limits: b.o.Limits}
		if iso == sandbox.IsolationContainer {
			return s.runInContainer(spec, out, tail)
		}
		res, err := sandbox.Run(b.ctx, spec, out, out)
		if err != nil {
			return layer.Built{}, runError(err, args, tail)
		}
		if err := leaveMountpoints(lower, upper); err != nil {
			return layer.Built{}, err
		}
		return layer.FromWriter(b.ctx, b.st, b.o.Compression, s.oci(), func(w io.Writer) error {
			return rootfs.WriteChanges(w, lower, upper, rootfs.ChangeOptions{Overlay: res.Overlay, RootOwned: userns.Rootless()})
		})
	})
	return err
}

// checkRunFlags refuses the RUN flags gantry does not do. --security=sandbox
// is BuildKit's default, which every RUN step has; insecure needs BuildKit's
// security.insecure entitlement, which gantry never grants.
func checkRunFlags(in *instructions.RunCommand) error {
	for _, f := range in.FlagsUsed {
		switch f {
		case "network", "mount":
		case "security":
			if sec := instructions.GetSecurity(in); sec != instructions.SecuritySandbox {
				return fmt.Errorf("RUN --security=%s needs the security.insecure entitlement, which gantry does not grant: drop the flag (steps run with the default capabilities)", sec)
			}
		default:
			return fmt.Errorf("RUN --%s is not supported yet", f)
		}
	}
	return nil
}

// runNetwork is the network a RUN asks for: its --network, else the
// build's --network.
func (b *dfBuild) runNetwork(in *instructions.RunCommand) string {
	network := instructions.GetNetwork(in)
	if network == instructions.NetworkDefault && b.o.Network != "" {
		network = b.o.Network
	}
	return network
}

// prepareRuns starts, once, what RUN steps need and take long to start
// (the isolation's check, the default network's pasta: 50-300 ms here),
// in the background. A step calls it when it misses the cache: the RUN
// steps after it run too, and find these ready instead of waiting.
func (b *dfBuild) prepareRuns() {
	b.prepareOnce.Do(func() {
		if !b.runsOnDefaultNetwork() {
			return
		}
		go func() {
			if iso, err := b.isolation(); err == nil && iso == sandbox.IsolationSandbox {
				b.network.Prepare(b.ctx)
			}
		}()
	})
}

// runsOnDefaultNetwork tells whether a RUN of the build uses the default
// network.
func (b *dfBuild) runsOnDefaultNetwork() bool {
	for _, st := range b.stages {
		for _, c := range st.Commands {
			if in, ok := c.(*instructions.RunCommand); ok && b.runNetwork(in) == instructions.NetworkDefault {
				return true
			}
		}
	}
	return false
}

// isolation is how RUN steps are isolated, decided at the first RUN: a
// build without RUN works where no isolation does.
func (b *dfBuild) isolation() (sandbox.Isolation, error) {
	b.isoMu.Lock()
	defer b.isoMu.Unlock()
	if b.iso == "" {
		iso, err := b.o.Isolation.Resolve()
		if err != nil {
			return "", err
		}
		b.iso = iso
	}
	return b.iso, nil
}

// runError says which command failed, with its exit code and last lines.
func runError(err error, args []string, tail *lastLines) error {
	var ee *sandbox.ExitError
	switch {
	case errors.As(err, &ee) && ee.OOM:
		return fmt.Errorf("%q was killed: %s; last output:\n%s", strings.Join(args, " "), ee.Limit, tail)
	case errors.As(err, &ee) && ee.Limit != "":
		return fmt.Errorf("%q failed with exit code %d: %s; last output:\n%s", strings.Join(args, " "), ee.Code, ee.Limit, tail)
	case errors.As(err, &ee):
		return fmt.Errorf("%q failed with exit code %d; last output:\n%s", strings.Join(args, " "), ee.Code, tail)
	}
	return err
}

// layContainerRoot makes "/" the stage's tree for a RUN in the container
// isolation and returns it. When the last step left that tree there (the
// next RUN of a stage), nothing is laid and no tree is unpacked in the
// rootfs cache. The caller holds b.hostMu.
func (s *stageState) layContainerRoot() (string, error) {
	b := s.b
	if b.host == nil {
		keep := append([]string{b.st.Root(), b.o.Context, filepath.Dir(b.o.Dockerfile)}, b.o.HostKeep...)
		for _, dir := range b.o.Contexts {
			keep = append(keep, dir)
		}
		var err error
		if b.host, err = sandbox.NewHostRoot(keep...); err != nil {
			return "", err
		}
	}
	id := treeID(s.img, v1.Hash{})
	if !b.host.Holds(id) {
		dir, err := s.rootDir()
		if err != nil {
			return "", err
		}
		if err := b.host.Lay(id, dir); err != nil {
			return "", err
		}
	}
	return b.host.Root(), nil
}

// runInContainer runs the step with the container gantry runs in as the
// isolation, in the tree layContainerRoot laid, and its changes become the
// layer. The caller holds b.hostMu.
func (s *stageState) runInContainer(spec sandbox.Spec, out io.Writer, tail *lastLines) (layer.Built, error) {
	b := s.b
	if spec.Network == sandbox.NetworkNone {
		// Said, never silently dropped: a step that asked for no network
		// must not pass for one that had none.
		fmt.Fprintln(out, "[Warning] RUN --network=none: the container isolation cannot take the network away (this container allows no namespaces); the step has the build container's network")
	}
	built, err := layer.FromWriter(b.ctx, b.st, b.o.Compression, s.oci(), func(w io.Writer) error {
		return runError(b.host.Run(b.ctx, spec, out, out, w), spec.Args, tail)
	})
	if err == nil {
		// "/" now holds the tree this step makes: the next step on it lays
		// nothing.
		b.host.Assume(treeID(s.img, built.DiffID))
	}
	return built, err
}

// treeID names the root filesystem of img, with one more layer on top when
// next is set: the layers' diff IDs in order.
func treeID(img v1.Image, next v1.Hash) string {
	cf, err := img.ConfigFile()
	if err != nil {
		return ""
	}
	h := sha256.New()
	for _, d := range append(append([]v1.Hash{}, cf.RootFS.DiffIDs...), next) {
		if d != (v1.Hash{}) {
			fmt.Fprintln(h, d)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// runEnv is RUN's environment before the runtime's defaults (PATH, HOME:
// rootfs.ProcessFor): the build args and ENV in scope and the proxy args.
func (s *stageState) runEnv() []string {
	vars := s.vars()
	for k, v := range proxyEnv(s.b.o.BuildArgs) {
		vars[k] = v
	}
	env := make([]string, 0, len(vars))
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	sort.Strings(env) // the same order each run
	return env
}

// proxyEnv is what the predefined proxy args given with --build-arg add
// to RUN's environment, as BuildKit's proxyEnvFromBuildArgs and its exec
// op set them: each in upper and lower case, over the stage's variables,
// whether an ARG declares it or not. They are not in the step's cache key.
// Names match in any case; of two spellings, the later in sorted order wins.
func proxyEnv(buildArgs map[string]string) map[string]string {
	keys := make([]string, 0, len(buildArgs))
	for k := range buildArgs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	found := map[string]string{}
	for _, k := range keys {
		for _, name := range proxyArgs {
			if strings.EqualFold(k, name) {
				found[name] = buildArgs[k]
			}
		}
	}
	out := map[string]string{}
	for name, v := range found {
		if v != "" {
			out[name] = v
			out[strings.ToUpper(name)] = v
		}
	}
	return out
}

var proxyArgs = []string{"http_proxy", "https_proxy", "ftp_proxy", "no_proxy", "all_proxy"}

// runtimeDirs are the mount points BuildKit's runc makes for /dev, /proc and
// /sys and leaves in the layer (the files it binds it removes).
var runtimeDirs = []string{"dev", "proc", "sys"}

// leaveMountpoints puts into the step's changes the empty 0755 directories
// BuildKit's RUN leaves where the image has no /dev, /proc or /sys (the
// sandbox removes the mount points it made).
func leaveMountpoints(lower, upper string) error {
	for _, d := range runtimeDirs {
		if _, err := os.Lstat(filepath.Join(lower, d)); err == nil {
			continue
		}
		p := filepath.Join(upper, d)
		if err := os.Mkdir(p, 0o755); err != nil && !os.IsExist(err) {
			return err
		}
		if err := os.Chmod(p, 0o755); err != nil {
			return err
		}
	}
	return nil
}
