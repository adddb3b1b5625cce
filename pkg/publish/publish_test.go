package publish

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gantry-build/gantry/internal/testenv"
	"github.com/gantry-build/gantry/pkg/images"
)

func TestBadOutputsAndTargets(t *testing.T) {
	for _, s := range []string{"type=docker", "type=zip,dest=x", "type=docker,dest=x,foo=1", "type=local"} {
		if _, err := ParseOutput(s); err == nil {
			t.Errorf("ParseOutput(%q) accepted", s)
		}
	}
	if o, err := ParseOutput("out.tar"); err != nil || o.Type != "docker" {
		t.Errorf("bare path: %+v %v", o, err)
	}
	for _, tg := range []Targets{{}, {Push: true}, {Names: []string{"UPPER/case"}}} {
		if err := tg.Validate(); err == nil {
			t.Errorf("%+v accepted", tg)
		}
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
