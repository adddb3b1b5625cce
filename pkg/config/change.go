package config

import (
	"fmt"
	"path"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// ApplyChanges applies Dockerfile instructions (--change 'CMD ["x"]'), as
// docker commit -c and docker import -c do: CMD, ENTRYPOINT, ENV, EXPOSE,
// LABEL, ONBUILD, USER, VOLUME, WORKDIR, STOPSIGNAL, HEALTHCHECK. BuildKit's
// own parser reads them, so quoting and forms are exactly Dockerfile's.
func ApplyChanges(cf *v1.ConfigFile, changes []string, created time.Time) error {
	c := &cf.Config
	for _, change := range changes {
		res, err := parser.Parse(strings.NewReader(change))
		if err != nil {
			return fmt.Errorf("invalid --change %q: %v", change, err)
		}
		if len(res.AST.Children) != 1 {
			return fmt.Errorf("invalid --change %q: give one instruction per --change", change)
		}
		inst, err := instructions.ParseInstruction(res.AST.Children[0])
		if err != nil {
			return fmt.Errorf("invalid --change %q: %v", change, err)
		}
		// Expansion resolves quotes and $VARS against the image's ENV, as
		// the builder does for these instructions.
		if ex, ok := inst.(instructions.SupportsSingleWordExpansion); ok {
			lex := shell.NewLex(res.EscapeToken)
			err := ex.Expand(func(word string) (string, error) {
				out, _, err := lex.ProcessWord(word, shell.EnvsFromSlice(c.Env))
				return out, err
			})
			if err != nil {
				return fmt.Errorf("invalid --change %q: %v", change, err)
			}
		}
		switch in := inst.(type) {
		case *instructions.CmdCommand:
			c.Cmd = commandLine(in.ShellDependantCmdLine, c.Shell)
		case *instructions.EntrypointCommand:
			c.Entrypoint = commandLine(in.ShellDependantCmdLine, c.Shell)
		case *instructions.EnvCommand:
			for _, kv := range in.Env {
				c.Env = SetEnv(c.Env, kv.Key, kv.Value)
			}
		case *instructions.ExposeCommand:
			for _, p := range in.Ports {
				port, err := ParsePort(p)
				if err != nil {
					return fmt.Errorf("invalid --change %q: %v", change, err)
				}
				if c.ExposedPorts == nil {
					c.ExposedPorts = map[string]struct{}{}
				}
				c.ExposedPorts[port] = struct{}{}
			}
		case *instructions.LabelCommand:
			if c.Labels == nil {
				c.Labels = map[string]string{}
			}
			for _, kv := range in.Labels {
				c.Labels[kv.Key] = kv.Value
			}
		case *instructions.OnbuildCommand:
			c.OnBuild = append(c.OnBuild, in.Expression)
		case *instructions.UserCommand:
			c.User = in.User
		case *instructions.VolumeCommand:
			if c.Volumes == nil {
				c.Volumes = map[string]struct{}{}
			}
			for _, v := range in.Volumes {
				c.Volumes[v] = struct{}{}
			}
		case *instructions.WorkdirCommand:
			w := in.Path
			if !path.IsAbs(w) {
				w = path.Join("/", c.WorkingDir, w)
			}
			c.WorkingDir = w
		case *instructions.StopSignalCommand:
			if err := ValidStopSignal(in.Signal); err != nil {
				return fmt.Errorf("--change %q: %w", change, err)
			}
			c.StopSignal = in.Signal
		case *instructions.HealthCheckCommand:
			h := in.Health
			c.Healthcheck = &v1.HealthConfig{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout, StartPeriod: h.StartPeriod, Retries: h.Retries}
		default:
			return fmt.Errorf("invalid --change %q: only CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, USER, VOLUME, WORKDIR, STOPSIGNAL and HEALTHCHECK change a config", change)
		}
		cf.History = append(cf.History, v1.History{Created: v1.Time{Time: created}, CreatedBy: strings.TrimSpace(change), EmptyLayer: true})
	}
	return nil
}

func commandLine(cl instructions.ShellDependantCmdLine, shell []string) []string {
	if !cl.PrependShell {
		return cl.CmdLine
	}
	if len(shell) == 0 {
		shell = []string{"/bin/sh", "-c"}
	}
	return append(append([]string{}, shell...), strings.Join(cl.CmdLine, " "))
}
