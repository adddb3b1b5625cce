package dockerfile

import (
	"fmt"
	"path"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"github.com/gantry-build/gantry/pkg/config"
	"github.com/gantry-build/gantry/pkg/platform"
	"github.com/gantry-build/gantry/pkg/store"
)

// stageState is a stage being built: its layers so far (img) and its
// config (cf), which is the truth; img's own config lags behind it.
type stageState struct {
	b      *dfBuild
	name   string
	img    v1.Image
	cf     *v1.ConfigFile
	args   map[string]string // ARGs declared in this stage
	env    map[string]string // what $VARS expand to and RUN sees: ENV and ARG, the later winning
	cmdSet bool              // CMD given in this stage: a later ENTRYPOINT keeps it
}

// image is the stage's result.
func (s *stageState) image() (v1.Image, error) { return mutate.ConfigFile(s.img, s.cf) }

// vars are what $VARS expand to and what RUN sees. As in BuildKit, ENV and
// ARG set them in order: an ENV after an ARG of the same name wins, and an
// ARG after an ENV wins too (for the build; the image keeps the ENV).
func (s *stageState) vars() map[string]string {
	out := make(map[string]string, len(s.env))
	for k, v := range s.env {
		out[k] = v
	}
	return out
}

func (s *stageState) expand(word string) (string, error) { return s.b.expandWith(word, s.vars()) }

func (s *stageState) from(index int, st instructions.Stage) error {
	b := s.b
	base, err := b.expandWith(st.BaseName, b.meta)
	if err != nil {
		return err
	}
	want := b.platform
	if st.Platform != "" {
		ps, err := b.expandWith(st.Platform, b.meta)
		if err != nil {
			return err
		}
		if want, err = platform.Parse(ps); err != nil {
			return err
		}
	}
	if i := stageIndex(b.stages[:index], base); i >= 0 && !strings.Contains(base, "/") && !strings.Contains(base, ":") {
		prev, err := b.stage(i)
		if err != nil {
			return err
		}
		if s.img, err = prev.image(); err != nil {
			return err
		}
	} else {
		img, err := b.base(base, &want)
		if err != nil {
			return err
		}
		if base != "scratch" {
			// The base's layers come into the store once: RUN unpacks them
			// and steps are cached against them.
			desc, err := b.st.WriteImage(b.ctx, img, store.WriteOptions{Jobs: b.rc.Jobs(), Progress: b.o.Progress})
			if err != nil {
				return err
			}
			if img, err = b.st.Image(desc.Digest); err != nil {
				return err
			}
		}
		s.img = img
	}
	cf, err := s.img.ConfigFile()
	if err != nil {
		return err
	}
	s.cf = cf.DeepCopy()
	s.cf.Created = v1.Time{Time: b.o.Created} // the build's time, not the base's
	if base == "scratch" {
		s.cf.Config.WorkingDir = "/" // BuildKit's empty image starts in /
	}
	// As BuildKit does, a stage whose base sets no PATH gets the default one.
	if !config.HasEnv(s.cf.Config.Env, "PATH") && want.OS != "windows" {
		s.cf.Config.Env = append(s.cf.Config.Env, "PATH="+config.DefaultPath)
	}
	s.env = map[string]string{}
	for _, kv := range s.cf.Config.Env {
		k, v, _ := strings.Cut(kv, "=")
		s.env[k] = v
	}
	// ONBUILD triggers of the base run now, and are not inherited further.
	triggers := s.cf.Config.OnBuild
	s.cf.Config.OnBuild = nil
	for _, t := range triggers {
		res, err := parser.Parse(strings.NewReader(t))
		if err != nil || len(res.AST.Children) != 1 {
			return fmt.Errorf("ONBUILD trigger %q of the base: %v", t, err)
		}
		cmd, err := instructions.ParseCommand(res.AST.Children[0])
		if err != nil {
			return fmt.Errorf("ONBUILD trigger %q of the base: %w", t, err)
		}
		if err := s.run(cmd); err != nil {
			return err
		}
	}
	return nil
}

// history records a config-only instruction, as BuildKit does.
func (s *stageState) history(cmd instructions.Command) {
	s.cf.History = append(s.cf.History, v1.History{
		Created: v1.Time{Time: s.b.o.Created}, CreatedBy: fmt.Sprint(cmd), Comment: "buildkit.dockerfile.v0", EmptyLayer: true,
	})
}

func (s *stageState) run(cmd instructions.Command) error {
	b := s.b
	b.step++
	label := fmt.Sprintf("#%d [%s] %s", b.step, s.name, cmd)
	if ex, ok := cmd.(instructions.SupportsSingleWordExpansion); ok {
		if _, isRun := cmd.(*instructions.RunCommand); !isRun {
			if err := ex.Expand(s.expand); err != nil {
				return fmt.Errorf("%s: %w", label, err)
			}
		}
	}
	c := &s.cf.Config
	var err error
	switch in := cmd.(type) {
	case *instructions.ArgCommand:
		for _, kv := range in.Args {
			v, declared := b.meta[kv.Key]
			if kv.Value != nil {
				v, declared = *kv.Value, true
			}
			if bv, ok := b.o.BuildArgs[kv.Key]; ok {
				v, declared = bv, true
			}
			s.args[kv.Key] = v
			if declared { // an ARG with no value anywhere stays unset, not empty
				s.env[kv.Key] = v
			}
		}
		return nil
	case *instructions.EnvCommand:
		for _, kv := range in.Env {
			c.Env = config.SetEnv(c.Env, kv.Key, kv.Value)
			s.env[kv.Key] = kv.Value
		}
	case *instructions.LabelCommand:
		if c.Labels == nil {
			c.Labels = map[string]string{}
		}
		for _, kv := range in.Labels {
			c.Labels[kv.Key] = kv.Value
		}
	case *instructions.MaintainerCommand:
		s.cf.Author = in.Maintainer
	case *instructions.ExposeCommand:
		ports, err := s.expandPorts(in.Ports)
		if err != nil {
			return fmt.Errorf("%s: %w", label, err)
		}
		if c.ExposedPorts == nil {
			c.ExposedPorts = map[string]struct{}{}
		}
		for _, p := range ports {
			c.ExposedPorts[p] = struct{}{}
		}
	case *instructions.VolumeCommand:
		if c.Volumes == nil {
			c.Volumes = map[string]struct{}{}
		}
		for _, v := range in.Volumes {
			c.Volumes[v] = struct{}{}
		}
	case *instructions.UserCommand:
		c.User = in.User
	case *instructions.WorkdirCommand:
		w := in.Path
		if !path.IsAbs(w) {
			w = path.Join("/", c.WorkingDir, w)
		}
		c.WorkingDir = w
		if err := s.ensureDir(w, cmd); err != nil {
			return fmt.Errorf("%s: %w", label, err)
		}
		return nil
	case *instructions.ShellCommand:
		c.Shell = in.Shell
	case *instructions.CmdCommand:
		c.Cmd = s.commandLine(in.ShellDependantCmdLine)
		s.cmdSet = true
	case *instructions.EntrypointCommand:
		c.Entrypoint = s.commandLine(in.ShellDependantCmdLine)
		if !s.cmdSet {
			c.Cmd = nil
		}
	case *instructions.HealthCheckCommand:
		h := in.Health
		c.Healthcheck = &v1.HealthConfig{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout, StartPeriod: h.StartPeriod, Retries: h.Retries}
	case *instructions.StopSignalCommand:
		c.StopSignal = in.Signal
	case *instructions.OnbuildCommand:
		c.OnBuild = append(c.OnBuild, in.Expression)
	case *instructions.CopyCommand:
		err = s.copy(label, cmd, copySpec{srcs: in.SourcePaths, contents: in.SourceContents, dest: in.DestPath, from: in.From, chown: in.Chown, chmod: in.Chmod,
			excludes: in.ExcludePatterns, parents: in.Parents})
		return wrap(label, err)
	case *instructions.AddCommand:
		err = s.copy(label, cmd, copySpec{srcs: in.SourcePaths, contents: in.SourceContents, dest: in.DestPath, chown: in.Chown, chmod: in.Chmod, add: true,
			excludes: in.ExcludePatterns, checksum: in.Checksum, unpack: in.Unpack, keepGitDir: in.KeepGitDir != nil && *in.KeepGitDir})
		return wrap(label, err)
	case *instructions.RunCommand:
		return wrap(label, s.runCommand(label, in))
	default:
		return fmt.Errorf("%s: not supported", label)
	}
	s.history(cmd)
	return nil
}

func wrap(label string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", label, err)
}

func (s *stageState) expandPorts(ports []string) ([]string, error) {
	var out []string
	for _, p := range ports {
		p, err := s.expand(p)
		if err != nil {
			return nil, err
		}
		for _, f := range strings.Fields(p) {
			port, err := config.ParsePort(f)
			if err != nil {
				return nil, err
			}
			out = append(out, port)
		}
	}
	sort.Strings(out)
	return out, nil
}

func (s *stageState) commandLine(cl instructions.ShellDependantCmdLine) []string {
	if !cl.PrependShell {
		return cl.CmdLine
	}
	sh := s.cf.Config.Shell
	if len(sh) == 0 {
		sh = []string{"/bin/sh", "-c"}
	}
	return append(append([]string{}, sh...), strings.Join(cl.CmdLine, " "))
}
