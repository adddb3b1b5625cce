package publish

import (
	"context"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gantry-build/gantry/internal/testenv"
	"github.com/gantry-build/gantry/pkg/images"
)

func TestBadOutputsAndTargets(t *testing.T) {
	for _, s := range []string{"type=zip,dest=x", "type=docker,dest=x,foo=1", "type=local", "type=tar", "type=image", "type=image,name=UPPER/x", "type=image,name=a,push=maybe", "dest=x"} {
		if _, err := ParseOutput(s); err == nil {
			t.Errorf("ParseOutput(%q) accepted", s)
		}
	}
	if o, err := ParseOutput("out.tar"); err != nil || o.Type != "docker" {
		t.Errorf("bare path: %+v %v", o, err)
	}
	for _, tg := range []Targets{{}, {Push: true}, {Names: []string{"UPPER/case"}}, {Outputs: []Output{{Type: "registry", Push: true}}}} {
		if err := tg.Validate(); err == nil {
			t.Errorf("%+v accepted", tg)
		}
	}
}

// buildx's spellings: type=docker without dest loads into the daemon,
// type=registry pushes without storing, type=image stores under name= and
// pushes with push=true; name= takes several names as CSV.
func TestBuildxOutputSpellings(t *testing.T) {
	for in, want := range map[string]Output{
		"type=docker":                 {Type: "daemon"},
		"type=registry":               {Type: "registry", Push: true},
		"type=registry,name=r.io/a:1": {Type: "registry", Names: []string{"r.io/a:1"}, Push: true},
		`type=image,"name=r.io/a:1,r.io/b:2",push=true`: {Type: "image", Names: []string{"r.io/a:1", "r.io/b:2"}, Push: true},
		"type=tar,dest=fs.tar":                          {Type: "tar", Dest: "fs.tar"},
	} {
		got, err := ParseOutput(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("ParseOutput(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	tg := Targets{Names: []string{"r.io/t:1"}, Outputs: []Output{{Type: "registry", Push: true}, {Type: "image", Names: []string{"r.io/i:1"}, Push: true}}}
	if got := tg.stored(); !reflect.DeepEqual(got, []string{"r.io/t:1", "r.io/i:1"}) {
		t.Errorf("stored = %v", got)
	}
	if got := tg.pushed(); !reflect.DeepEqual(got, []string{"r.io/t:1", "r.io/i:1"}) {
		t.Errorf("pushed = %v", got)
	}
	// -t without --push and a registry output with its own name: push only there.
	tg = Targets{Names: []string{"r.io/t:1"}, Outputs: []Output{{Type: "registry", Names: []string{"r.io/r:1"}, Push: true}}}
	if got := tg.pushed(); !reflect.DeepEqual(got, []string{"r.io/r:1"}) {
		t.Errorf("pushed = %v", got)
	}
}

// A daemon output is checked before any work: Check fails at once when no
// engine answers.
func TestDaemonOutputCheckedFirst(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(t.TempDir(), "none.sock"))
	err := Targets{Outputs: []Output{{Type: "daemon"}}}.Check(context.Background())
	if err == nil || !strings.Contains(err.Error(), "no Docker or Podman engine answers") {
		t.Fatalf("err = %v", err)
	}
}

func TestDaemonOutputWithoutEngine(t *testing.T) {
	st, rc := testenv.Store(t), testenv.Client(t)
	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(t.TempDir(), "none.sock"))
	img, err := images.Scratch(nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Deliver(context.Background(), st, rc, images.Artifact{Image: img}, Targets{Outputs: []Output{{Type: "daemon"}}}, nil)
	if err == nil || !strings.Contains(err.Error(), "no Docker or Podman engine answers") {
		t.Fatalf("err = %v", err)
	}
}
