package progress

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestJSONEvents(t *testing.T) {
	var buf bytes.Buffer
	rep, err := New(ModeJSON, &buf)
	if err != nil {
		t.Fatal(err)
	}
	rep.Start("sha256:aaa", "layer 1/2", 10)
	io.Copy(io.Discard, Reader(context.Background(), strings.NewReader("0123456789"), rep, "sha256:aaa"))
	rep.Done("sha256:aaa")
	rep.Skip("sha256:bbb", "layer 2/2", "already in store")
	rep.Fail("sha256:ccc", errors.New("boom"))
	rep.Printf("Pulled %s", "x")
	rep.Close()

	var events []Event
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var e Event
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("not a JSON line: %q", line)
		}
		events = append(events, e)
	}
	kinds := []string{}
	for _, e := range events {
		kinds = append(kinds, e.Event)
	}
	if got := strings.Join(kinds, ","); got != "start,progress,done,skip,fail,message" {
		t.Fatalf("events = %s", got)
	}
	if events[0].Total != 10 || events[2].Current != 10 || events[3].Reason != "already in store" || events[4].Error != "boom" || events[5].Message != "Pulled x" {
		t.Errorf("event fields wrong: %+v", events)
	}
}

func TestPlainAndModes(t *testing.T) {
	var buf bytes.Buffer
	rep, err := New(ModeAuto, &buf) // a buffer is not a terminal: plain lines
	if err != nil {
		t.Fatal(err)
	}
	rep.Start("sha256:0123456789abcdef", "config", 2048)
	rep.Skip("sha256:fedcba9876543210", "layer 1/1", "exists")
	rep.Done("sha256:0123456789abcdef")
	want := "0123456789ab: config started (2.0 KiB)\nfedcba987654: layer 1/1 skipped: exists\n0123456789ab: config done\n"
	if buf.String() != want {
		t.Errorf("plain output:\n%s\nwant:\n%s", buf.String(), want)
	}
	if _, err := New("fancy", &buf); err == nil {
		t.Error("unknown mode accepted")
	}
	q, _ := New(ModeQuiet, &buf)
	q.Printf("nothing")
	if strings.Contains(buf.String(), "nothing") {
		t.Error("quiet mode printed")
	}
}

func TestReaderStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Reader(ctx, strings.NewReader("data"), Nop(), "x").Read(make([]byte, 4))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("read after cancel: %v", err)
	}
}

func TestBarsDraw(t *testing.T) {
	var buf bytes.Buffer
	rep, err := New(ModeTTY, &buf)
	if err != nil {
		t.Fatal(err)
	}
	rep.Start("sha256:0123456789abcdef", "layer 1/1", 1000)
	rep.Add("sha256:0123456789abcdef", 1000)
	rep.Done("sha256:0123456789abcdef")
	rep.Skip("sha256:fedcba9876543210", "layer 2/2", "exists")
	rep.Close()
	out := buf.String()
	for _, want := range []string{"0123456789ab layer 1/1", "done", "fedcba987654 layer 2/2: exists"} {
		if !strings.Contains(out, want) {
			t.Errorf("bars output lacks %q:\n%q", want, out)
		}
	}
}

func TestWithoutSkips(t *testing.T) {
	var buf bytes.Buffer
	rep, err := New(ModePlain, &buf)
	if err != nil {
		t.Fatal(err)
	}
	quiet := WithoutSkips(rep)
	quiet.Skip("sha256:aaa", "layer 1/1", "already in store")
	quiet.Printf("stored %s", "x")
	rep.Close()
	if out := buf.String(); strings.Contains(out, "already in store") || !strings.Contains(out, "stored x") {
		t.Errorf("output:\n%s", out)
	}
}
