package config

import (
	"reflect"
	"sort"
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

func TestCommandFlags(t *testing.T) {
	run := func(flag string, shell []string) ([]string, error) {
		cf := &v1.ConfigFile{Config: v1.Config{Shell: shell}}
		err := Edits{Cmd: &flag}.Apply(cf, time.Unix(0, 0))
		return cf.Config.Cmd, err
	}
	if got, _ := run("echo $HOME", nil); !reflect.DeepEqual(got, []string{"/bin/sh", "-c", "echo $HOME"}) {
		t.Errorf("shell form = %v", got)
	}
	// Shell form runs in the image's SHELL, as a Dockerfile CMD does.
	if got, _ := run("echo hi", []string{"/bin/bash", "-c"}); !reflect.DeepEqual(got, []string{"/bin/bash", "-c", "echo hi"}) {
		t.Errorf("shell form with SHELL = %v", got)
	}
	if got, _ := run(`["a","b c"]`, nil); !reflect.DeepEqual(got, []string{"a", "b c"}) {
		t.Errorf("exec form = %v", got)
	}
	if got, _ := run("", nil); got != nil {
		t.Errorf("empty = %v", got)
	}
	if _, err := run(`["a",`, nil); err == nil || !strings.Contains(err.Error(), "JSON") {
		t.Errorf("bad JSON: %v", err)
	}
}

// The effect of an instruction is the same whichever way it arrives: a
// Dockerfile, --change, or a config flag. ENTRYPOINT drops an inherited CMD
// unless a CMD came before it in the same sequence.
func TestEntrypointDropsInheritedCmdEverywhere(t *testing.T) {
	base := func() *v1.ConfigFile {
		return &v1.ConfigFile{Config: v1.Config{Cmd: []string{"inherited"}}}
	}
	ep := `["/app"]`
	viaFlag := base()
	if err := (Edits{Entrypoint: &ep}).Apply(viaFlag, time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	viaChange := base()
	if err := ApplyChanges(viaChange, []string{"ENTRYPOINT " + ep}, time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	for name, cf := range map[string]*v1.ConfigFile{"--entrypoint": viaFlag, "--change": viaChange} {
		if cf.Config.Cmd != nil || !reflect.DeepEqual(cf.Config.Entrypoint, []string{"/app"}) {
			t.Errorf("%s: entrypoint %v cmd %v, want [/app] and no inherited cmd", name, cf.Config.Entrypoint, cf.Config.Cmd)
		}
	}
	both := base()
	if err := ApplyChanges(both, []string{`CMD ["x"]`, "ENTRYPOINT " + ep}, time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(both.Config.Cmd, []string{"x"}) {
		t.Errorf("a CMD before the ENTRYPOINT was dropped: %v", both.Config.Cmd)
	}
}

func TestHealthcheckStartIntervalAndSignals(t *testing.T) {
	hc := "--interval=5s --start-interval=2s CMD true"
	cf := &v1.ConfigFile{}
	if err := (Edits{Healthcheck: &hc}).Apply(cf, time.Unix(0, 0)); err != nil {
		t.Fatalf("--start-interval refused: %v", err)
	}
	for _, sig := range []string{"SIGTERM", "TERM", "9", "SIGRTMIN+3"} {
		sig := sig
		if err := (Edits{StopSignal: &sig}).Apply(&v1.ConfigFile{}, time.Unix(0, 0)); err != nil {
			t.Errorf("--stop-signal %s refused: %v", sig, err)
		}
	}
	for _, sig := range []string{"SIGNOPE", "0", "99", "TERM\nCMD x"} {
		sig := sig
		if err := (Edits{StopSignal: &sig}).Apply(&v1.ConfigFile{}, time.Unix(0, 0)); err == nil {
			t.Errorf("--stop-signal %q accepted", sig)
		}
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

// CMD marks the config ArgsEscaped, as BuildKit does for every CMD.
func TestCmdSetsArgsEscaped(t *testing.T) {
	cf := &v1.ConfigFile{}
	if err := ApplyChanges(cf, []string{`CMD ["x"]`}, time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	if !cf.Config.ArgsEscaped {
		t.Error("CMD left ArgsEscaped unset")
	}
}

// EXPOSE reads ports as BuildKit's parsePort does: an IP and a host port
// before the container port are allowed (BuildKit only lints them) and
// dropped, a range expands, the protocol is lower-cased.
func TestExposeFormsAsBuildKit(t *testing.T) {
	cf := &v1.ConfigFile{}
	if err := ApplyChanges(cf, []string{`EXPOSE 127.0.0.1:80:80 [::1]:8080:8080 5000:5000 8000 9000-9002/UDP 7000-7010:7000 :6000`}, time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	var got []string
	for p := range cf.Config.ExposedPorts {
		got = append(got, p)
	}
	sort.Strings(got)
	if w := "5000/tcp 6000/tcp 7000/tcp 80/tcp 8000/tcp 8080/tcp 9000/udp 9001/udp 9002/udp"; strings.Join(got, " ") != w {
		t.Errorf("ports %v, want %s", got, w)
	}
	for _, bad := range []string{"1.2.3:80:80", "80-70", "5000-5001:80-82", "80/icmp", "http", "70000", "7000:7000-7001", "[::1:80:80", "a:b:80", "80/tcp/x"} {
		if err := ApplyChanges(&v1.ConfigFile{}, []string{"EXPOSE " + bad}, time.Unix(0, 0)); err == nil {
			t.Errorf("EXPOSE %s accepted", bad)
		}
	}
}
