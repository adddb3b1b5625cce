package config

import (
	"reflect"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func str(s string) *string { return &s }

func TestApply(t *testing.T) {
	cf := &v1.ConfigFile{Config: v1.Config{Env: []string{"PATH=/bin", "A=old"}, Cmd: []string{"/bin/sh"}}}
	e := Edits{
		Entrypoint: str(`["/app/run.sh"]`), Env: []string{"A=new", "B=2"}, Ports: []string{"80", "53/udp"},
		Workdir: str("/app"), Volumes: []string{"/data"}, Labels: []string{"org.x=y"}, User: str("1000:1000"),
		StopSignal: str("SIGTERM"), Healthcheck: str("--interval=5s --retries=3 CMD wget -q localhost"),
	}
	if err := e.Apply(cf, time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	if !reflect.DeepEqual(c.Env, []string{"PATH=/bin", "A=new", "B=2"}) {
		t.Errorf("Env = %v", c.Env)
	}
	if c.Cmd != nil {
		t.Errorf("a new entrypoint kept the base's Cmd %v", c.Cmd)
	}
	if !reflect.DeepEqual(c.Entrypoint, []string{"/app/run.sh"}) || c.WorkingDir != "/app" || c.User != "1000:1000" {
		t.Errorf("config = %+v", c)
	}
	if _, ok := c.ExposedPorts["53/udp"]; !ok || len(c.ExposedPorts) != 2 {
		t.Errorf("ports = %v", c.ExposedPorts)
	}
	if c.Healthcheck == nil || c.Healthcheck.Interval != 5*time.Second || c.Healthcheck.Retries != 3 || c.Healthcheck.Test[0] != "CMD-SHELL" {
		t.Errorf("healthcheck = %+v", c.Healthcheck)
	}
	if len(cf.History) != 11 || !cf.History[0].EmptyLayer {
		t.Errorf("history = %+v", cf.History)
	}
}

func TestParseCommand(t *testing.T) {
	got, _ := ParseCommand("echo $HOME", "--cmd")
	if !reflect.DeepEqual(got, []string{"/bin/sh", "-c", "echo $HOME"}) {
		t.Errorf("shell form = %v", got)
	}
	got, _ = ParseCommand(`["a","b c"]`, "--cmd")
	if !reflect.DeepEqual(got, []string{"a", "b c"}) {
		t.Errorf("exec form = %v", got)
	}
	if got, _ := ParseCommand("", "--cmd"); got != nil {
		t.Errorf("empty = %v", got)
	}
	if _, err := ParseCommand(`["a",`, "--cmd"); err == nil || !strings.Contains(err.Error(), "JSON") {
		t.Errorf("bad JSON: %v", err)
	}
}

func TestBadInput(t *testing.T) {
	for _, e := range []Edits{
		{Ports: []string{"http"}}, {Ports: []string{"70000"}}, {Ports: []string{"80/icmp"}},
		{Env: []string{"NOVALUE"}}, {Env: []string{"=x"}}, {Labels: []string{"x"}},
		{Volumes: []string{"rel"}}, {Healthcheck: str("--bogus=1 CMD x")}, {Healthcheck: str("true")},
	} {
		if err := e.Apply(&v1.ConfigFile{}, time.Unix(0, 0)); err == nil {
			t.Errorf("%+v accepted", e)
		}
	}
}
