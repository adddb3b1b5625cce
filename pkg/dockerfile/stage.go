package dockerfile

import (
	"errors"
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"

	"github.com/gantry-build/gantry/pkg/config"
	"github.com/gantry-build/gantry/pkg/platform"
	"github.com/gantry-build/gantry/pkg/store"
)

// stageState is a stage being built: its layers so far (img) and its
// config (cf), which is the truth; img's own config lags behind it.
type stageState struct {
	b     *dfBuild
	name  string
	index int // in the Dockerfile
	// platform is what the stage is for: its FROM --platform, its base
	// stage's, else the target; RUN runs for it.
	platform v1.Platform
	img      v1.Image
	fromImg  v1.Image               // the image FROM names, which --squash builds on
	rest     []instructions.Command // the stage's instructions after the one running
	conf     config.Stage           // the config, which is the truth; img's own lags behind it
	args     map[string]string      // ARGs declared in this stage
	env      map[string]string      // what $VARS expand to and RUN sees: ENV and ARG, the later winning
	// inline are the cached steps whose layers the stage's image holds,
	// its base stage's included, for --cache-to type=inline.
	inline []inlineStep
}

// image is the stage's result.
func (s *stageState) image() (v1.Image, error) {
	img, err := mutate.ConfigFile(s.img, s.conf.File)
	if err != nil {
		return nil, err
	}
	return config.WithStartInterval(img, s.conf.StartInterval)
}

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
	var prev *stageState // the stage this one is built on, if it is
	if i := stageIndex(b.stages[:index], base); i >= 0 && !strings.Contains(base, "/") && !strings.Contains(base, ":") {
		var err error
		if prev, err = b.stage(i); err != nil {
			return err
		}
		if s.img, err = prev.image(); err != nil {
			return err
		}
		want = prev.platform // as BuildKit's dispatchState.init takes it
		s.inline = append([]inlineStep(nil), prev.inline...)
	} else {
		img, err := b.base(base, &want)
		if err != nil {
			return err
		}
		if base != "scratch" {
			// The base comes into the store once, its layers lazily: a RUN
			// fetches them when it unpacks them; a build that only copies
			// files onto the base and pushes never downloads them.
			desc, err := b.st.WriteImage(b.ctx, img, store.WriteOptions{Jobs: b.rc.Jobs(), Progress: b.o.Progress, Lazy: true})
			if err != nil {
				return err
			}
			if img, err = b.st.Image(desc.Digest); err != nil {
				return err
			}
		}
		s.img = img
	}
	s.platform, s.fromImg = want, s.img
	cf, err := s.img.ConfigFile()
	if err != nil {
		return err
	}
	s.conf.File = cf.DeepCopy()
	if raw, err := s.img.RawConfigFile(); err == nil {
		s.conf.StartInterval = config.StartIntervalOf(raw)
	}
	s.conf.File.Created = v1.Time{Time: b.o.Created} // the build's time, not the base's
	if base == "scratch" {
		// BuildKit's empty image is the target's, OS version included, and
		// starts in /.
		s.conf.File.OSVersion, s.conf.File.OSFeatures = want.OSVersion, want.OSFeatures
		s.conf.File.Config.WorkingDir = "/"
	}
	// The working directory is in the OS's form, as BuildKit's
	// NormalizeWorkdir sets it at the start of each stage (\ on Windows).
	s.conf.File.Config.WorkingDir = s.osPath(s.conf.File.Config.WorkingDir)
	// As BuildKit does, a stage whose base sets no PATH gets the default one.
	if !config.HasEnv(s.conf.File.Config.Env, "PATH") && want.OS != "windows" {
		s.conf.File.Config.Env = append(s.conf.File.Config.Env, "PATH="+config.DefaultPath)
	}
	s.env = map[string]string{}
	for _, kv := range s.conf.File.Config.Env {
		k, v, _ := strings.Cut(kv, "=")
		s.env[k] = v
	}
	if prev != nil {
		// A stage built on a stage goes on with its variables, ARGs
		// included, as BuildKit's dispatchState.init takes the base's
		// state and build args.
		for k, v := range prev.env {
			s.env[k] = v
		}
		for k, v := range prev.args {
			s.args[k] = v
		}
	}
	// ONBUILD triggers of the base run now, and are not inherited further.
	triggers := s.conf.File.Config.OnBuild
	s.conf.File.Config.OnBuild = nil
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

// windows is whether the stage's image is a Windows one, whose config
// paths use backslashes.
func (s *stageState) windows() bool { return s.conf.File.OS == "windows" }

// osPath is p (slash-separated) in the form the stage's OS writes paths in
// its config.
func (s *stageState) osPath(p string) string {
	if s.windows() {
		return strings.ReplaceAll(p, "/", `\`)
	}
	return p
}

// workdir is the stage's working directory as a slash-separated path in
// the image, whatever the OS writes in its config (a Windows drive letter
// dropped, as BuildKit's CheckSystemDriveAndRemoveDriveLetter does).
func (s *stageState) workdir() string {
	wd := s.conf.File.Config.WorkingDir
	if s.windows() {
		if len(wd) >= 2 && wd[1] == ':' {
			wd = wd[2:]
		}
		wd = strings.ReplaceAll(wd, `\`, "/")
	}
	return wd
}

// history records a config-only instruction, as BuildKit does.
func (s *stageState) history(cmd instructions.Command) {
	s.conf.File.History = append(s.conf.File.History, v1.History{
		Created: v1.Time{Time: s.b.o.Created}, CreatedBy: fmt.Sprint(cmd), Comment: "buildkit.dockerfile.v0", EmptyLayer: true,
	})
}

func (s *stageState) run(cmd instructions.Command) error {
	b := s.b
	label := fmt.Sprintf("#%d [%s] %s", b.step.Add(1), s.name, cmd)
	// RUN expands only its flags (runCommand); ARG only its default value
	// (dispatchArg), its name never, as in BuildKit.
	_, isRun := cmd.(*instructions.RunCommand)
	_, isArg := cmd.(*instructions.ArgCommand)
	if ex, ok := cmd.(instructions.SupportsSingleWordExpansion); ok {
		if !isRun && !isArg {
			if err := ex.Expand(s.expand); err != nil {
				return fmt.Errorf("%s: %w", label, err)
			}
		}
	}
	// Heredoc bodies of COPY and ADD expand as BuildKit's ExpandRaw does:
	// variables, not quotes (a quoted delimiter turned this off already).
	if ex, ok := cmd.(instructions.SupportsSingleWordExpansionRaw); ok {
		lex := shell.NewLex('\\')
		lex.SkipProcessQuotes = true
		env := shell.EnvsFromSlice(envList(s.vars()))
		if err := ex.ExpandRaw(func(word string) (string, error) {
			out, _, err := lex.ProcessWord(word, env)
			return out, err
		}); err != nil {
			return fmt.Errorf("%s: %w", label, err)
		}
	}
	return wrap(label, s.dispatch(label, cmd))
}

func envList(vars map[string]string) []string {
	out := make([]string, 0, len(vars))
	for k, v := range vars {
		out = append(out, k+"="+v)
	}
	return out
}

// dispatch runs one instruction: one line per kind, as BuildKit's
// dockerfile2llb dispatches them.
func (s *stageState) dispatch(label string, cmd instructions.Command) error {
	switch in := cmd.(type) {
	case *instructions.ArgCommand:
		return s.dispatchArg(in)
	case *instructions.WorkdirCommand:
		return s.dispatchWorkdir(in)
	case *instructions.CopyCommand:
		return s.dispatchCopy(label, in)
	case *instructions.AddCommand:
		return s.dispatchAdd(label, in)
	case *instructions.RunCommand:
		return s.runCommand(label, in)
	default:
		return s.dispatchMetadata(cmd)
	}
}

// dispatchMetadata makes the config change of a metadata instruction
// through pkg/config, as --change and the config flags do.
func (s *stageState) dispatchMetadata(cmd instructions.Command) error {
	if err := s.conf.Apply(cmd, s.expand); err != nil {
		if errors.Is(err, config.ErrNotMetadata) {
			return errors.New("not supported")
		}
		return err
	}
	if env, ok := cmd.(*instructions.EnvCommand); ok {
		for _, kv := range env.Env {
			s.env[kv.Key] = kv.Value
		}
	}
	s.history(cmd)
	return nil
}

// dispatchArg declares build args: --build-arg wins over the default, an
// arg declared before FROM gives its value when redeclared without one.
func (s *stageState) dispatchArg(in *instructions.ArgCommand) error {
	b := s.b
	for _, kv := range in.Args {
		v, declared := b.meta[kv.Key]
		if bv, ok := b.o.BuildArgs[kv.Key]; ok {
			v, declared = bv, true
		} else if kv.Value != nil {
			expanded, err := s.expand(*kv.Value)
			if err != nil {
				return err
			}
			v, declared = expanded, true
		}
		s.args[kv.Key] = v
		if declared { // an ARG with no value anywhere stays unset, not empty
			s.env[kv.Key] = v
		}
	}
	return nil
}

func wrap(label string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", label, err)
}

// runFollows tells whether a RUN comes later in the stage.
func (s *stageState) runFollows() bool {
	for _, c := range s.rest {
		if _, ok := c.(*instructions.RunCommand); ok {
			return true
		}
	}
	return false
}
