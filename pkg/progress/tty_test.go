package progress

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// newTestTTY is a tty view drawing on a screen of width×height; redraw
// stands in for the ticker.
func newTestTTY(width, height int) (*tty, *screen, func()) {
	scr := newScreen(width, height)
	t := newTTY(scr, func() (int, int) { return width, height })
	redraw := func() {
		t.mu.Lock()
		t.frame(nil)
		t.mu.Unlock()
	}
	return t, scr, redraw
}

// Every line a step prints reaches the final transcript exactly once: a
// step that ends well has its lines written above the live area, a failed
// step's lines are printed whole at the end; redraws erase only the live
// area, and DONE lines are written once.
func TestTTYStepOutputOnce(t *testing.T) {
	rep, scr, redraw := newTestTTY(60, 12)
	rep.Step("#1", "[build 1/2] RUN make")
	rep.Step("#2", "[test 1/1] RUN check")
	rep.Start("sha256:0123456789abcdef0000", "layer 1/1", 1000)
	var ok, bad []string
	for i := 0; i < 20; i++ {
		ok = append(ok, fmt.Sprintf("compiling unit %d", i))
		bad = append(bad, fmt.Sprintf("checking case %d", i))
		rep.Log("#1", ok[i])
		rep.Log("#2", bad[i])
		rep.Add("sha256:0123456789abcdef0000", 50)
		redraw()
	}
	// While running, the live area shows each step with its last lines.
	screenNow := strings.Join(scr.transcript(), "\n")
	for _, want := range []string{"=> #1 [build 1/2] RUN make", "=> => # compiling unit 19", "=> => # checking case 19", "=> 0123456789ab layer 1/1 ["} {
		if !strings.Contains(screenNow, want) {
			t.Errorf("live area lacks %q:\n%s", want, screenNow)
		}
	}
	// Lines wider than the terminal, progress meters and escape sequences
	// in a command's output do not throw the redraw off.
	long := strings.Repeat("x", 150)
	rep.Log("#1", long)
	rep.Log("#1", "downloading 10%\rdownloading 100%")
	rep.Log("#1", "\x1b[2A\x1b[Jsneaky")
	redraw()
	rep.StepDone("#1", false)
	rep.Done("sha256:0123456789abcdef0000")
	rep.Printf("Pulled example.com/app:1")
	rep.Step("#3", "[build 2/2] COPY . /")
	rep.StepDone("#3", true)
	redraw()
	rep.Fail("#2", errors.New("\"check\" failed with exit code 1; last output:\nchecking case 19"))
	redraw()
	rep.Close()

	lines := scr.transcript()
	all := strings.Join(lines, "\n")
	for _, l := range ok {
		if n := count(lines, "#1 "+l); n != 1 {
			t.Errorf("%q appears %d times in:\n%s", "#1 "+l, n, all)
		}
	}
	for _, l := range bad { // in the failure box, once
		if n := count(lines, l); n != 1 {
			t.Errorf("%q appears %d times in:\n%s", l, n, all)
		}
	}
	for line, want := range map[string]int{
		"#1 [build 1/2] RUN make": 1,
		"#1 " + long:              0, // wrapped: checked below
		"#1 downloading 100%":     1,
		"#1 sneaky":               1,
		"#3 [build 2/2] COPY . /": 1,
		"#3 CACHED":               1,
		"#2 [test 1/1] RUN check": 1,
		"#2 ERROR: \"check\" failed with exit code 1; last output: …": 1,
		" > #2 [test 1/1] RUN check:":                                 1,
		"Pulled example.com/app:1":                                    1,
	} {
		if n := count(lines, line); n != want {
			t.Errorf("%q appears %d times, want %d, in:\n%s", line, n, want, all)
		}
	}
	if n := strings.Count(strings.ReplaceAll(all, "\n", ""), long); n != 1 {
		t.Errorf("the long line appears %d times", n)
	}
	if n := strings.Count(all, "#1 DONE "); n != 1 {
		t.Errorf("DONE written %d times:\n%s", n, all)
	}
	if n := strings.Count(all, "0123456789ab layer 1/1: done (1000 B"); n != 1 {
		t.Errorf("blob done written %d times:\n%s", n, all)
	}
	if strings.Contains(all, "=> ") {
		t.Errorf("the live area is left on the screen:\n%s", all)
	}
	// The failed step's whole log comes last, boxed.
	if lines[len(lines)-1] != "------" || lines[len(lines)-2] != "checking case 19" {
		t.Errorf("transcript does not end with the failure box:\n%s", all)
	}
}

// Status lines between blob transfers, the blobs all done before the last
// of them: each line once, and no crash (the mpb renderer panicked here,
// "can't be reused after Wait").
func TestTTYBlobsAndStatusLines(t *testing.T) {
	rep, scr, redraw := newTestTTY(100, 20)
	for i := 0; i < 5; i++ {
		id := fmt.Sprintf("sha256:%012d0000", i)
		rep.Start(id, fmt.Sprintf("layer %d/5", i+1), 1000)
		rep.Add(id, 500)
		redraw()
		rep.Printf("#%d step: DONE 0.1s", i)
		rep.Add(id, 500)
		rep.Done(id)
		redraw()
	}
	rep.Skip("sha256:fedcba9876543210", "config", "exists")
	rep.Close()
	lines := scr.transcript()
	for i := 0; i < 5; i++ {
		if n := count(lines, fmt.Sprintf("#%d step: DONE 0.1s", i)); n != 1 {
			t.Errorf("status line %d appears %d times", i, n)
		}
		if n := strings.Count(strings.Join(lines, "\n"), fmt.Sprintf("%012d layer %d/5: done", i, i+1)); n != 1 {
			t.Errorf("done line %d appears %d times", i, n)
		}
	}
	if count(lines, "fedcba987654 config: exists") != 1 || len(lines) != 11 {
		t.Errorf("transcript:\n%s", strings.Join(lines, "\n"))
	}
}

// More running steps than the terminal has rows: the live area stays
// within the screen (the cursor cannot go back into the scrollback), so
// nothing drawn before is left half-erased.
func TestTTYLiveAreaFitsTheScreen(t *testing.T) {
	rep, scr, redraw := newTestTTY(40, 8)
	for i := 0; i < 30; i++ {
		rep.Step(fmt.Sprintf("#%d", i), fmt.Sprintf("step %d", i))
		rep.Log(fmt.Sprintf("#%d", i), fmt.Sprintf("out %d", i))
		redraw()
	}
	if rep.live > 6 {
		t.Errorf("live area of %d lines on an 8-row screen", rep.live)
	}
	for i := 0; i < 30; i++ {
		rep.StepDone(fmt.Sprintf("#%d", i), false)
	}
	rep.Close()
	lines := scr.transcript()
	for i := 0; i < 30; i++ {
		if count(lines, fmt.Sprintf("#%d step %d", i, i)) != 1 || count(lines, fmt.Sprintf("#%d out %d", i, i)) != 1 {
			t.Fatalf("step %d not written exactly once:\n%s", i, strings.Join(lines, "\n"))
		}
	}
	if len(lines) != 90 {
		t.Errorf("%d lines, want 90 (header, output, DONE per step):\n%s", len(lines), strings.Join(lines, "\n"))
	}
}

// Steps logging from many goroutines while the ticker redraws: the
// transcript still holds every line once.
func TestTTYConcurrent(t *testing.T) {
	scr := newScreen(80, 24)
	rep := newTTY(scr, func() (int, int) { return 80, 24 })
	var wg sync.WaitGroup
	for s := 0; s < 4; s++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("#%d", s)
			rep.Step(id, "RUN work")
			w := LogWriter(rep, id)
			for i := 0; i < 50; i++ {
				fmt.Fprintf(w, "step %d line %d\n", s, i)
				if i%10 == 0 {
					time.Sleep(refresh / 2)
				}
			}
			w.Close()
			rep.StepDone(id, false)
		}()
	}
	wg.Wait()
	rep.Close()
	lines := scr.transcript()
	for s := 0; s < 4; s++ {
		for i := 0; i < 50; i++ {
			if n := count(lines, fmt.Sprintf("#%d step %d line %d", s, s, i)); n != 1 {
				t.Fatalf("step %d line %d appears %d times", s, i, n)
			}
		}
	}
}

func TestLogWriterLines(t *testing.T) {
	var buf strings.Builder
	rep := newPlain(&buf)
	w := LogWriter(rep, "#4")
	fmt.Fprint(w, "one\r\ntw")
	fmt.Fprint(w, "o\nthree")
	w.Close()
	if got := buf.String(); got != "#4 one\n#4 two\n#4 three\n" {
		t.Errorf("lines:\n%q", got)
	}
}

func TestVisible(t *testing.T) {
	for in, want := range map[string]string{
		"a\tb":                     "a       b",
		"10%\r50%\r":               "50%",
		"\x1b[31mred\x1b[0m":       "red",
		"\x1b]0;title\x07text":     "text",
		"bell\x07 and \x1b[2Kgone": "bell and gone",
	} {
		if got := visible(in); got != want {
			t.Errorf("visible(%q) = %q, want %q", in, got, want)
		}
	}
}
