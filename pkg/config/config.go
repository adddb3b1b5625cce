// Package config edits image configs the way Dockerfile instructions do:
// the --entrypoint, --cmd, --env … flags of build and mutate.
package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"path"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// Edits are config changes; nil or empty fields leave the base's value.
type Edits struct {
	Entrypoint  *string  // JSON array (exec form) or a string (shell form); "" clears
	Cmd         *string  // same
	Env         []string // K=V
	Ports       []string // 80, 80/tcp, 53/udp
	Workdir     *string
	Volumes     []string
	Labels      []string // K=V
	User        *string
	StopSignal  *string
	Healthcheck *string // Dockerfile HEALTHCHECK syntax: NONE, or [--interval=…] CMD …
}

// Apply changes cf and records one history entry per change (empty_layer),
// so docker history reads like the Dockerfile that would have done it. Each
// flag is the instruction of the same name, applied by Stage.Apply as a
// Dockerfile would apply it.
func (e Edits) Apply(cf *v1.ConfigFile, created time.Time) error {
	st := &Stage{File: cf}
	apply := func(cmd instructions.Command, line string) error {
		if err := st.Apply(cmd, nil); err != nil {
			return err
		}
		cf.History = append(cf.History, v1.History{Created: v1.Time{Time: created}, CreatedBy: line, EmptyLayer: true})
		return nil
	}
	for _, kv := range e.Env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			return fmt.Errorf("invalid --env %q: use KEY=VALUE", kv)
		}
		if err := apply(&instructions.EnvCommand{Env: instructions.KeyValuePairs{{Key: k, Value: v}}}, "ENV "+k+"="+v); err != nil {
			return err
		}
	}
	if e.Workdir != nil {
		if err := apply(&instructions.WorkdirCommand{Path: *e.Workdir}, "WORKDIR "+Workdir(cf.Config.WorkingDir, *e.Workdir)); err != nil {
			return err
		}
	}
	if e.User != nil {
		if err := apply(&instructions.UserCommand{User: *e.User}, "USER "+*e.User); err != nil {
			return err
		}
	}
	for _, p := range e.Ports {
		ports, err := parsePorts(p)
		if err != nil {
			return fmt.Errorf("invalid --port %q: %v; use %s", p, err, portForm)
		}
		if err := apply(&instructions.ExposeCommand{Ports: ports}, "EXPOSE "+strings.Join(ports, " ")); err != nil {
			return err
		}
	}
	for _, v := range e.Volumes {
		if !path.IsAbs(v) {
			return fmt.Errorf("invalid --volume %q: a volume is an absolute path in the image", v)
		}
		if err := apply(&instructions.VolumeCommand{Volumes: []string{v}}, "VOLUME ["+strconv.Quote(v)+"]"); err != nil {
			return err
		}
	}
	for _, kv := range e.Labels {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return fmt.Errorf("invalid --label %q: use KEY=VALUE", kv)
		}
		if err := apply(&instructions.LabelCommand{Labels: instructions.KeyValuePairs{{Key: k, Value: v}}}, "LABEL "+k+"="+strconv.Quote(v)); err != nil {
			return err
		}
	}
	if e.StopSignal != nil {
		if err := apply(&instructions.StopSignalCommand{Signal: *e.StopSignal}, "STOPSIGNAL "+*e.StopSignal); err != nil {
			return fmt.Errorf("--stop-signal: %w", err)
		}
	}
	if e.Healthcheck != nil {
		hc, err := ParseHealthcheck(*e.Healthcheck)
		if err != nil {
			return err
		}
		if err := apply(hc, "HEALTHCHECK "+*e.Healthcheck); err != nil {
			return err
		}
	}
	// CMD before ENTRYPOINT: a CMD given with the entrypoint is kept, an
	// inherited one is dropped, as in a Dockerfile.
	var cmdLine []string
	if e.Cmd != nil {
		cl, err := flagCommandLine(*e.Cmd, "--cmd")
		if err != nil {
			return err
		}
		if err := st.Apply(&instructions.CmdCommand{ShellDependantCmdLine: cl}, nil); err != nil {
			return err
		}
		cmdLine = cf.Config.Cmd
	}
	if e.Entrypoint != nil {
		cl, err := flagCommandLine(*e.Entrypoint, "--entrypoint")
		if err != nil {
			return err
		}
		if err := apply(&instructions.EntrypointCommand{ShellDependantCmdLine: cl}, "ENTRYPOINT "+jsonString(CommandLine(cl, cf.Config.Shell))); err != nil {
			return err
		}
	}
	if e.Cmd != nil {
		cf.History = append(cf.History, v1.History{Created: v1.Time{Time: created}, CreatedBy: "CMD " + jsonString(cmdLine), EmptyLayer: true})
	}
	return nil
}

// flagCommandLine reads --entrypoint and --cmd: a JSON array is exec form,
// any other string shell form, "" none.
func flagCommandLine(s, flag string) (instructions.ShellDependantCmdLine, error) {
	t := strings.TrimSpace(s)
	switch {
	case t == "":
		return instructions.ShellDependantCmdLine{}, nil
	case strings.HasPrefix(t, "["):
		var out []string
		if err := json.Unmarshal([]byte(t), &out); err != nil {
			return instructions.ShellDependantCmdLine{}, fmt.Errorf("invalid %s %s: not a JSON array of strings: %v", flag, s, err)
		}
		return instructions.ShellDependantCmdLine{CmdLine: out}, nil
	}
	return instructions.ShellDependantCmdLine{CmdLine: []string{s}, PrependShell: true}, nil
}

// ParsePorts reads a port as BuildKit's EXPOSE does:
// [IP:][HOSTPORT:]PORT[-END][/tcp|/udp|/sctp]. The IP and host port are
// checked and dropped (BuildKit only lints them); a range gives each port.
func ParsePorts(s string) ([]string, error) {
	ports, err := parsePorts(s)
	if err != nil {
		return nil, fmt.Errorf("invalid port %q: %v; use %s", s, err, portForm)
	}
	return ports, nil
}

const portForm = "[IP:][HOSTPORT:]PORT[-END][/tcp|/udp|/sctp], e.g. 80 or 53/udp"

func parsePorts(s string) ([]string, error) {
	parts := strings.Split(s, ":")
	n := len(parts)
	ip, hostPort, containerPort := strings.Join(parts[:max(n-2, 0)], ":"), "", parts[n-1]
	if n >= 2 {
		hostPort = parts[n-2]
	}
	num, proto, _ := strings.Cut(containerPort, "/")
	proto = strings.ToLower(proto)
	switch proto {
	case "":
		proto = "tcp"
	case "tcp", "udp", "sctp":
	default:
		return nil, errors.New("unknown protocol " + proto)
	}
	if strings.HasPrefix(ip, "[") {
		host, _, err := net.SplitHostPort(ip + ":")
		if err != nil {
			return nil, errors.New("invalid IP address " + ip)
		}
		ip = host
	}
	if ip != "" && net.ParseIP(ip) == nil {
		return nil, errors.New("invalid IP address " + ip)
	}
	start, end, err := portRange(num)
	if err != nil {
		return nil, err
	}
	if hostPort != "" {
		hs, he, err := portRange(hostPort)
		if err != nil {
			return nil, fmt.Errorf("host port: %w", err)
		}
		// A host range may go with one container port, not another range.
		if end-start != he-hs && end != start {
			return nil, errors.New("the container and host ranges differ")
		}
	}
	out := make([]string, 0, end-start+1)
	for p := start; p <= end; p++ {
		out = append(out, strconv.Itoa(p)+"/"+proto)
	}
	return out, nil
}

// portRange reads PORT or START-END, each 0 to 65535 as BuildKit allows.
func portRange(s string) (int, int, error) {
	if s == "" {
		return 0, 0, errors.New("no port")
	}
	a, b, isRange := strings.Cut(s, "-")
	num := func(x string) (int, error) {
		n, err := strconv.ParseUint(x, 10, 16)
		if err != nil {
			return 0, fmt.Errorf("%q is not a number from 0 to 65535", x)
		}
		return int(n), nil
	}
	start, err := num(a)
	if err != nil {
		return 0, 0, err
	}
	if !isRange || a == b {
		return start, start, nil
	}
	end, err := num(b)
	if err != nil {
		return 0, 0, err
	}
	if end < start {
		return 0, 0, fmt.Errorf("range %s ends before it starts", s)
	}
	return start, end, nil
}

// ParseHealthcheck reads HEALTHCHECK's arguments with BuildKit's parser, so
// that every option the Dockerfile takes (--start-interval too) works.
func ParseHealthcheck(s string) (*instructions.HealthCheckCommand, error) {
	res, err := parser.Parse(strings.NewReader("HEALTHCHECK " + s))
	if err != nil || len(res.AST.Children) != 1 {
		return nil, fmt.Errorf("invalid --healthcheck %q: use NONE or [--interval=…] CMD command: %v", s, err)
	}
	inst, err := instructions.ParseInstruction(res.AST.Children[0])
	if err != nil {
		return nil, fmt.Errorf("invalid --healthcheck %q: %v", s, err)
	}
	hc, ok := inst.(*instructions.HealthCheckCommand)
	if !ok {
		return nil, fmt.Errorf("invalid --healthcheck %q", s)
	}
	return hc, nil
}

// DefaultPath is the PATH BuildKit gives an image that sets none, and the
// one RUN and working containers use then.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// HasEnv reports whether env (K=V lines) sets k.
func HasEnv(env []string, k string) bool {
	for _, kv := range env {
		if strings.HasPrefix(kv, k+"=") {
			return true
		}
	}
	return false
}

// SetEnv sets k in env (K=V lines), replacing its earlier value in place.
func SetEnv(env []string, k, v string) []string {
	for i, kv := range env {
		if name, _, _ := strings.Cut(kv, "="); name == k {
			env[i] = k + "=" + v
			return env
		}
	}
	return append(env, k+"="+v)
}

func jsonString(v []string) string {
	if v == nil {
		return "[]"
	}
	b, _ := json.Marshal(v)
	return string(b)
}
