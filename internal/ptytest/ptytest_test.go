package ptytest
import ("testing";"golang.org/x/term")
func TestOpen(t *testing.T){
	tt, c, err := Open(100, 30)
	if err != nil { t.Fatal(err) }
	defer tt.Close(); defer c.Close()
	w, h, err := term.GetSize(int(tt.Fd()))
	if !term.IsTerminal(int(tt.Fd())) || w != 100 || h != 30 || err != nil { t.Fatal(w,h,err) }
	tt.Write([]byte("hi\n"))
	b := make([]byte, 10); n, _ := c.Read(b)
	if string(b[:n]) != "hi\r\n" { t.Fatalf("%q", b[:n]) }
}
