package inspect

import (
	"bytes"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
)

// hostile is what a hostile image puts in its config to forge output lines
// and drive the terminal: newlines, ESC sequences (colour, clear screen,
// window title), a C1 CSI, a bidi override.
const hostile = "ok\nFAKE: forged line\x1b[31m\x1b]0;title\x07\u009b2J\u202e"

// Unsafe reports the first byte or rune of out a terminal would act on
// (anything but printable text, spaces and the line ends of the format).
func Unsafe(out string) (rune, bool) {
	for _, r := range out {
		if r == '\n' || r == ' ' {
			continue
		}
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			return r, true
		}
	}
	return 0, false
}

func hostileImage(t *testing.T) v1.Image {
	t.Helper()
	img, err := random.Image(100, 1)
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = "linux", "amd64", hostile
	cf.Config.Labels = map[string]string{"k" + hostile: "v" + hostile}
	cf.Config.Env = []string{"A=" + hostile}
	cf.Config.WorkingDir = hostile
	cf.Config.User = hostile
	cf.Config.Cmd = []string{hostile}
	cf.Config.StopSignal = hostile
	cf.Config.ExposedPorts = map[string]struct{}{"80/" + hostile: {}}
	cf.Config.Volumes = map[string]struct{}{"/v" + hostile: {}}
	cf.History = []v1.History{{CreatedBy: "RUN " + hostile}}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func TestReportEscapesWhatTheImageSays(t *testing.T) {
	r, err := Image("example.com/x:1", hostileImage(t))
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if c, bad := Unsafe(text.String()); bad {
		t.Errorf("text output holds %q:\n%s", c, text.String())
	}
	for _, l := range strings.Split(text.String(), "\n") {
		if strings.HasPrefix(l, "FAKE") {
			t.Errorf("the image forged a line: %q", l)
		}
	}
	if !strings.Contains(text.String(), `ok\nFAKE`) {
		t.Errorf("the newline is not shown escaped:\n%s", text.String())
	}
	var js bytes.Buffer
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	if c, bad := Unsafe(js.String()); bad {
		t.Errorf("JSON output holds %q", c)
	}
}
