package main

import (
	"errors"
	"testing"
)

// gantry run reads -i and -t as docker run does.
func TestDecideStreams(t *testing.T) {
	for _, c := range []struct {
		name                          string
		interactive, tty, stdinIsTerm bool
		want                          runStreams
		err                           error
	}{
		{"neither", false, false, true, runStreams{}, nil},
		{"-i piped", true, false, false, runStreams{input: true}, nil},
		{"-i on a terminal: a pipe of it", true, false, true, runStreams{input: true, pipe: true}, nil},
		{"-t piped: a terminal, no input", false, true, false, runStreams{tty: true}, nil},
		{"-t on a terminal: cooked, no input", false, true, true, runStreams{tty: true}, nil},
		{"-it on a terminal: raw", true, true, true, runStreams{tty: true, input: true, raw: true}, nil},
		{"-it piped: refused", true, true, false, runStreams{}, errNotTTY},
	} {
		got, err := decideStreams(c.interactive, c.tty, c.stdinIsTerm)
		if got != c.want || !errors.Is(err, c.err) {
			t.Errorf("%s: %+v, %v; want %+v, %v", c.name, got, err, c.want, c.err)
		}
	}
	if errNotTTY.Error()[:len("the input device is not a TTY")] != "the input device is not a TTY" {
		t.Errorf("%q does not start with Docker's words", errNotTTY)
	}
}
