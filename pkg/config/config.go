// Package config edits image configs the way Dockerfile instructions do:
// the --entrypoint, --cmd, --env … flags of build and mutate.
package config

import (
	"encoding/json"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
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
// so docker history reads like the Dockerfile that would have done it.
func (e Edits) Apply(cf *v1.ConfigFile, created time.Time) error {
	c := &cf.Config
	record := func(line string) {
		cf.History = append(cf.History, v1.History{Created: v1.Time{Time: created}, CreatedBy: line, EmptyLayer: true})
	}
	for _, kv := range e.Env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			return fmt.Errorf("invalid --env %q: use KEY=VALUE", kv)
		}
		c.Env = SetEnv(c.Env, k, v)
		record("ENV " + k + "=" + v)
	}
	if e.Workdir != nil {
		w := *e.Workdir
		if !path.IsAbs(w) {
			w = path.Join("/", c.WorkingDir, w)
		}
		c.WorkingDir = w
		record("WORKDIR " + w)
	}
	if e.User != nil {
		c.User = *e.User
		record("USER " + c.User)
	}
	for _, p := range e.Ports {
		port, err := ParsePort(p)
		if err != nil {
			return err
		}
		if c.ExposedPorts == nil {
			c.ExposedPorts = map[string]struct{}{}
		}
		c.ExposedPorts[port] = struct{}{}
		record("EXPOSE " + port)
	}
	for _, v := range e.Volumes {
		if !path.IsAbs(v) {
			return fmt.Errorf("invalid --volume %q: a volume is an absolute path in the image", v)
		}
		if c.Volumes == nil {
			c.Volumes = map[string]struct{}{}
		}
		c.Volumes[v] = struct{}{}
		record("VOLUME [" + strconv.Quote(v) + "]")
	}
	for _, kv := range e.Labels {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return fmt.Errorf("invalid --label %q: use KEY=VALUE", kv)
		}
		if c.Labels == nil {
			c.Labels = map[string]string{}
		}
		c.Labels[k] = v
		record("LABEL " + k + "=" + strconv.Quote(v))
	}
	if e.StopSignal != nil {
		if err := ValidStopSignal(*e.StopSignal); err != nil {
			return err
		}
		c.StopSignal = *e.StopSignal
		record("STOPSIGNAL " + c.StopSignal)
	}
	if e.Healthcheck != nil {
		hc, err := ParseHealthcheck(*e.Healthcheck)
		if err != nil {
			return err
		}
		c.Healthcheck = hc
		record("HEALTHCHECK " + *e.Healthcheck)
	}
	if e.Entrypoint != nil {
		ep, err := ParseCommand(*e.Entrypoint, "--entrypoint")
		if err != nil {
			return err
		}
		c.Entrypoint = ep
		// As in a Dockerfile: a new ENTRYPOINT drops the CMD inherited
		// from the base, which was written for the old one.
		if e.Cmd == nil {
			c.Cmd = nil
		}
		record("ENTRYPOINT " + jsonString(ep))
	}
	if e.Cmd != nil {
		cmd, err := ParseCommand(*e.Cmd, "--cmd")
		if err != nil {
			return err
		}
		c.Cmd = cmd
		record("CMD " + jsonString(cmd))
	}
	return nil
}

// ParseCommand reads exec form (a JSON array of strings) or shell form (any
// other string, run by /bin/sh -c). "" means none.
func ParseCommand(s, flag string) ([]string, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return nil, nil
	}
	if strings.HasPrefix(t, "[") {
		var out []string
		if err := json.Unmarshal([]byte(t), &out); err != nil {
			return nil, fmt.Errorf("invalid %s %s: not a JSON array of strings: %v", flag, s, err)
		}
		return out, nil
	}
	return []string{"/bin/sh", "-c", s}, nil
}

// ParsePort reads 80, 80/tcp, 53/udp, 132/sctp.
func ParsePort(s string) (string, error) {
	num, proto, found := strings.Cut(strings.ToLower(s), "/")
	if !found {
		proto = "tcp"
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 1 || n > 65535 || (proto != "tcp" && proto != "udp" && proto != "sctp") {
		return "", fmt.Errorf("invalid --port %q: use a number from 1 to 65535, optionally /tcp, /udp or /sctp", s)
	}
	return strconv.Itoa(n) + "/" + proto, nil
}

// ParseHealthcheck reads HEALTHCHECK's arguments.
func ParseHealthcheck(s string) (*v1.HealthConfig, error) {
	fields := strings.Fields(s)
	if len(fields) == 1 && strings.EqualFold(fields[0], "NONE") {
		return &v1.HealthConfig{Test: []string{"NONE"}}, nil
	}
	hc := &v1.HealthConfig{}
	i := 0
	for ; i < len(fields) && strings.HasPrefix(fields[i], "--"); i++ {
		k, v, _ := strings.Cut(strings.TrimPrefix(fields[i], "--"), "=")
		var err error
		switch k {
		case "interval":
			hc.Interval, err = time.ParseDuration(v)
		case "timeout":
			hc.Timeout, err = time.ParseDuration(v)
		case "start-period":
			hc.StartPeriod, err = time.ParseDuration(v)
		case "retries":
			hc.Retries, err = strconv.Atoi(v)
		default:
			err = fmt.Errorf("unknown option --%s", k)
		}
		if err != nil {
			return nil, fmt.Errorf("invalid --healthcheck %q: %v", s, err)
		}
	}
	if i >= len(fields) || !strings.EqualFold(fields[i], "CMD") || i+1 >= len(fields) {
		return nil, fmt.Errorf("invalid --healthcheck %q: use NONE or [--interval=…] CMD command", s)
	}
	rest := strings.TrimSpace(s[strings.Index(s, fields[i])+len(fields[i]):])
	if strings.HasPrefix(rest, "[") {
		var args []string
		if err := json.Unmarshal([]byte(rest), &args); err != nil {
			return nil, fmt.Errorf("invalid --healthcheck %q: %v", s, err)
		}
		hc.Test = append([]string{"CMD"}, args...)
	} else {
		hc.Test = []string{"CMD-SHELL", rest}
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
