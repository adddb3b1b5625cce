package dockerfile

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/gantry-build/gantry/internal/testenv"
)

// HEALTHCHECK --start-interval reaches the image config (go-containerregistry's
// HealthConfig has no field for it), is inherited by a stage built FROM it
// and is gone after HEALTHCHECK NONE, as in BuildKit's image.
func TestHealthcheckStartIntervalKept(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "f"), []byte("f"), 0o644)
	build := func(df, target string) map[string]any {
		t.Helper()
		os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644)
		res, err := FromDockerfile(context.Background(), testenv.Store(t), testenv.Client(t), DockerfileOptions{Context: dir, Target: target, Labels: map[string]string{"l": "v"}})
		if err != nil {
			t.Fatal(err)
		}
		raw, err := res.Image.RawConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		var cf struct {
			Config struct {
				Healthcheck map[string]any
				Labels      map[string]string
			} `json:"config"`
		}
		if err := json.Unmarshal(raw, &cf); err != nil {
			t.Fatal(err)
		}
		if cf.Config.Labels["l"] != "v" {
			t.Errorf("labels lost: %s", raw)
		}
		// The manifest names the config it serves.
		name, _ := res.Image.ConfigName()
		m, _ := res.Image.Manifest()
		if m.Config.Digest != name || m.Config.Size != int64(len(raw)) {
			t.Errorf("manifest config %v %d, config %v %d", m.Config.Digest, m.Config.Size, name, len(raw))
		}
		return cf.Config.Healthcheck
	}
	df := "FROM scratch AS a\nHEALTHCHECK --interval=5s --start-interval=3s CMD true\nFROM a AS b\nCOPY f /f\nFROM b AS c\nHEALTHCHECK NONE\n"
	if hc := build(df, "a"); hc["StartInterval"] != float64(3e9) || hc["Interval"] != float64(5e9) {
		t.Errorf("stage a: %v", hc)
	}
	if hc := build(df, "b"); hc["StartInterval"] != float64(3e9) {
		t.Errorf("stage b (FROM a): %v", hc)
	}
	if hc := build(df, "c"); hc["StartInterval"] != nil {
		t.Errorf("after HEALTHCHECK NONE: %v", hc)
	}
}
