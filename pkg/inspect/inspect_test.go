package inspect

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
)

func TestReport(t *testing.T) {
	img, err := random.Image(100, 2)
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "arm64"
	cf.Created = v1.Time{Time: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)}
	cf.Config.Cmd = []string{"/bin/sh", "-c", "echo hi"}
	cf.Config.Env = []string{"A=1"}
	cf.Config.ExposedPorts = map[string]struct{}{"80/tcp": {}}
	cf.Config.Labels = map[string]string{"k": "v"}
	cf.History = []v1.History{{CreatedBy: "ADD a /"}, {CreatedBy: "ENV A=1", EmptyLayer: true}, {CreatedBy: "COPY b /"}}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Image("example.com/x:1", img)
	if err != nil {
		t.Fatal(err)
	}
	if r.Platform != "linux/arm64" || len(r.Layers) != 2 || r.Layers[1].CreatedBy != "COPY b /" {
		t.Fatalf("report = %+v", r)
	}
	var text bytes.Buffer
	r.WriteText(&text)
	for _, want := range []string{"Platform:    linux/arm64", `Cmd:         ["/bin/sh","-c","echo hi"]`, "Env:         A=1", "Ports:       80/tcp", "Label:       k=v", "Created:     2024-01-02T03:04:05Z", "ADD a /", "COPY b /"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}
	if strings.Contains(text.String(), "ENV A=1") {
		t.Error("an empty-layer history entry was paired with a layer")
	}
	var js bytes.Buffer
	r.WriteJSON(&js)
	var back map[string]any
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || back["platform"] != "linux/arm64" {
		t.Errorf("json: %v %s", err, js.String())
	}
}

func TestHumanSize(t *testing.T) {
	for n, want := range map[int64]string{0: "0B", 999: "999B", 1000: "1kB", 1500000: "1.5MB", 2_345_000_000: "2.35GB"} {
		if got := HumanSize(n); got != want {
			t.Errorf("HumanSize(%d) = %s, want %s", n, got, want)
		}
	}
}

// An image whose config names no platform (crane append on scratch makes
// them) is reported, not a crash.
func TestReportWithoutPlatform(t *testing.T) {
	img, err := random.Image(100, 1)
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "", ""
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	r, err := Image("example.com/x:1", img)
	if err != nil {
		t.Fatal(err)
	}
	if r.Platform != "unknown" {
		t.Errorf("platform = %q, want unknown", r.Platform)
	}
}
