//go:build linux

package ptytest

import (
	"testing"

	"golang.org/x/term"
)

// The terminal side is a terminal of the size asked, and what is written
// to it reaches the controlling side (with the line discipline's \r\n).
func TestOpen(t *testing.T) {
	tt, control, err := Open(100, 30)
	if err != nil {
		t.Fatal(err)
	}
	defer tt.Close()
	defer control.Close()
	w, h, err := term.GetSize(int(tt.Fd()))
	if !term.IsTerminal(int(tt.Fd())) || w != 100 || h != 30 || err != nil {
		t.Fatalf("size %dx%d, %v", w, h, err)
	}
	tt.Write([]byte("hi\n"))
	b := make([]byte, 10)
	n, _ := control.Read(b)
	if string(b[:n]) != "hi\r\n" {
		t.Fatalf("read %q", b[:n])
	}
}
