package terminal

import (
	"encoding/json"
	"testing"
)

func TestEscape(t *testing.T) {
	for in, want := range map[string]string{
		"plain text / 123":   "plain text / 123",
		"naïve 日本語 ✓":        "naïve 日本語 ✓",
		"a\nb\r\tc":          `a\nb\r\tc`,
		"\x1b[31mred\x07":    `\x1b[31mred\x07`,
		"csi\u009b2J":        `csi\u009b2J`,
		"bidi\u202eevil":     `bidi\u202eevil`,
		"del\x7f":            `del\x7f`,
		"bad\xffutf8":        `bad\xffutf8`,
		"nbsp\u00a0x":        `nbsp\u00a0x`,
		"back\\slash stays":  `back\slash stays`,
		"tag\U000e0041 char": `tag\U000e0041 char`,
	} {
		if got := Escape(in); got != want {
			t.Errorf("Escape(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestJSONStaysJSON(t *testing.T) {
	in := map[string]string{"k": "x\u009by\u202ez\x7f\U000e0041 ünïcode"}
	raw, _ := json.MarshalIndent(in, "", "  ")
	out := JSON(raw)
	for _, r := range string(out) {
		if r != '\n' && !printable(r) {
			t.Fatalf("%q left in %s", r, out)
		}
	}
	var back map[string]string
	if err := json.Unmarshal(out, &back); err != nil || back["k"] != in["k"] {
		t.Errorf("round trip: %q, %v", back["k"], err)
	}
}
