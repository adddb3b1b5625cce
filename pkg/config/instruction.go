package config

import (
	"errors"
	"path"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
)

// Stage is a config being changed by a sequence of instructions: the config
// and what an instruction's effect depends on besides it. A Dockerfile
// stage, one gantry mutate, one commit --change list and one set of config
// flags are each a Stage, so an instruction means the same everywhere
// (moby's BuildFromConfig runs commit --change through the builder's own
// dispatcher for the same reason).
type Stage struct {
	File *v1.ConfigFile
	// CmdSet is whether a CMD came earlier in this sequence: a later
	// ENTRYPOINT keeps it; otherwise ENTRYPOINT drops the inherited CMD,
	// which was written for the old entrypoint.
	CmdSet bool
	// StartInterval is the healthcheck's --start-interval, which File has
	// no field for (see WithStartInterval).
	StartInterval time.Duration
}

// ErrNotMetadata is returned by Apply for instructions that make layers
// (RUN, COPY, ADD) or only steer the build (ARG, FROM).
var ErrNotMetadata = errors.New("not a config instruction")

// Apply makes the config change of a metadata instruction: CMD, ENTRYPOINT,
// ENV, EXPOSE, LABEL, MAINTAINER, ONBUILD, USER, VOLUME, WORKDIR, SHELL,
// STOPSIGNAL, HEALTHCHECK. The instruction's words are expanded already,
// except EXPOSE's ports, which expand (nil: as they are) then split on
// spaces, as BuildKit does.
func (s *Stage) Apply(cmd instructions.Command, expand func(string) (string, error)) error {
	c := &s.File.Config
	switch in := cmd.(type) {
	case *instructions.EnvCommand:
		for _, kv := range in.Env {
			c.Env = SetEnv(c.Env, kv.Key, kv.Value)
		}
	case *instructions.LabelCommand:
		if c.Labels == nil {
			c.Labels = map[string]string{}
		}
		for _, kv := range in.Labels {
			c.Labels[kv.Key] = kv.Value
		}
	case *instructions.MaintainerCommand:
		s.File.Author = in.Maintainer
	case *instructions.ExposeCommand:
		ports, err := expandPorts(in.Ports, expand)
		if err != nil {
			return err
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
		c.WorkingDir = Workdir(c.WorkingDir, in.Path)
	case *instructions.ShellCommand:
		c.Shell = in.Shell
	case *instructions.CmdCommand:
		c.Cmd = CommandLine(in.ShellDependantCmdLine, c.Shell)
		// As BuildKit's dispatchCmd sets it, whatever the form: Docker's
		// image spec keeps the field for Windows command lines.
		c.ArgsEscaped = true
		s.CmdSet = true
	case *instructions.EntrypointCommand:
		c.Entrypoint = CommandLine(in.ShellDependantCmdLine, c.Shell)
		if !s.CmdSet {
			c.Cmd = nil
		}
	case *instructions.HealthCheckCommand:
		h := in.Health
		// StartInterval has no field in go-containerregistry's config.
		c.Healthcheck = &v1.HealthConfig{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout, StartPeriod: h.StartPeriod, Retries: h.Retries}
		s.StartInterval = h.StartInterval
	case *instructions.StopSignalCommand:
		if err := ValidStopSignal(in.Signal); err != nil {
			return err
		}
		c.StopSignal = in.Signal
	case *instructions.OnbuildCommand:
		c.OnBuild = append(c.OnBuild, in.Expression)
	default:
		return ErrNotMetadata
	}
	return nil
}

// Workdir is where WORKDIR p leads from dir: a relative p starts at dir.
func Workdir(dir, p string) string {
	if path.IsAbs(p) {
		return path.Clean(p)
	}
	return path.Join("/", dir, p)
}

// CommandLine is the config form of CMD, ENTRYPOINT: exec form as it is,
// shell form run by the stage's SHELL (default /bin/sh -c).
func CommandLine(cl instructions.ShellDependantCmdLine, shell []string) []string {
	if !cl.PrependShell {
		return cl.CmdLine
	}
	if len(shell) == 0 {
		shell = []string{"/bin/sh", "-c"}
	}
	return append(append([]string{}, shell...), strings.Join(cl.CmdLine, " "))
}

func expandPorts(ports []string, expand func(string) (string, error)) ([]string, error) {
	var out []string
	for _, p := range ports {
		if expand != nil {
			var err error
			if p, err = expand(p); err != nil {
				return nil, err
			}
		}
		for _, f := range strings.Fields(p) {
			ports, err := ParsePorts(f)
			if err != nil {
				return nil, err
			}
			out = append(out, ports...)
		}
	}
	sort.Strings(out)
	return out, nil
}
