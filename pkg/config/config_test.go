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

func TestApplyChanges(t *testing.T) {
	cf := &v1.ConfigFile{}
	err := ApplyChanges(cf, []string{
		`CMD ["/bin/echo", "hi"]`, `ENTRYPOINT /run.sh --flag`, `ENV A=1 B="two words"`, `EXPOSE 80 53/udp`,
		`LABEL "k 1"=v1 k2=v2`, `ONBUILD RUN make`, `USER app`, `VOLUME ["/data", "/logs"]`, `WORKDIR /srv`,
		`WORKDIR sub`, `STOPSIGNAL SIGINT`, `HEALTHCHECK --interval=10s CMD ["curl", "-f", "localhost"]`,
	}, time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	if !reflect.DeepEqual(c.Cmd, []string{"/bin/echo", "hi"}) || !reflect.DeepEqual(c.Entrypoint, []string{"/bin/sh", "-c", "/run.sh --flag"}) {
		t.Errorf("cmd %v entrypoint %v", c.Cmd, c.Entrypoint)
	}
	if !reflect.DeepEqual(c.Env, []string{"A=1", "B=two words"}) || c.Labels["k 1"] != "v1" || c.WorkingDir != "/srv/sub" {
		t.Errorf("env %v labels %v workdir %q", c.Env, c.Labels, c.WorkingDir)
	}
	if len(c.ExposedPorts) != 2 || len(c.Volumes) != 2 || c.OnBuild[0] != "RUN make" || c.StopSignal != "SIGINT" {
		t.Errorf("config %+v", c)
	}
	if c.Healthcheck == nil || c.Healthcheck.Test[0] != "CMD" || c.Healthcheck.Interval != 10*time.Second {
		t.Errorf("healthcheck %+v", c.Healthcheck)
	}
	if len(cf.History) != 12 {
		t.Errorf("%d history entries", len(cf.History))
	}
	for _, bad := range []string{"RUN make", "FROM x", "EXPOSE http", "ENV"} {
		if err := ApplyChanges(&v1.ConfigFile{}, []string{bad}, time.Unix(0, 0)); err == nil {
			t.Errorf("--change %q accepted", bad)
		}
	}
}
