package progress

import (
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// screen is a tiny terminal: it interprets what a renderer writes (text,
// \n, \r, and the cursor-up and erase sequences) into the lines a person
// would see, scrollback included. Cursor-up stops at the top of the visible
// height, as in a real terminal: what scrolled off cannot be erased.
type screen struct {
	mu     sync.Mutex
	width  int
	height int
	lines  []string
	row    int // cursor row, an index into lines
	col    int
	esc    []byte // an escape sequence being read
}

func newScreen(width, height int) *screen {
	return &screen{width: width, height: height, lines: []string{""}}
}

func (s *screen) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(p) > 0 {
		if s.esc != nil {
			c := p[0]
			p = p[1:]
			s.esc = append(s.esc, c)
			if len(s.esc) == 2 && c != '[' {
				s.esc = nil // not a CSI sequence: ignored
				continue
			}
			if len(s.esc) > 2 && c >= 0x40 && c <= 0x7e {
				s.csi(string(s.esc[2:len(s.esc)-1]), c)
				s.esc = nil
			}
			continue
		}
		r, size := utf8.DecodeRune(p)
		p = p[size:]
		switch r {
		case 0x1b:
			s.esc = []byte{0x1b}
		case '\n':
			s.row++
			s.col = 0
			if s.row == len(s.lines) {
				s.lines = append(s.lines, "")
			}
		case '\r':
			s.col = 0
		default:
			if s.col >= s.width { // auto-wrap
				s.row++
				s.col = 0
				if s.row == len(s.lines) {
					s.lines = append(s.lines, "")
				}
			}
			line := []rune(s.lines[s.row])
			for len(line) < s.col {
				line = append(line, ' ')
			}
			if s.col < len(line) {
				line[s.col] = r
			} else {
				line = append(line, r)
			}
			s.lines[s.row] = string(line)
			s.col++
		}
	}
	return 0, nil
}

func (s *screen) csi(arg string, final byte) {
	n, err := strconv.Atoi(arg)
	if err != nil {
		n = 0
	}
	switch final {
	case 'A': // cursor up
		if n == 0 {
			n = 1
		}
		top := len(s.lines) - s.height
		if top < 0 {
			top = 0
		}
		s.row -= n
		if s.row < top {
			s.row = top
		}
	case 'J': // erase below (0) or the whole screen (2)
		if n == 0 {
			s.lines[s.row] = truncRunes(s.lines[s.row], s.col)
			s.lines = s.lines[:s.row+1]
		}
	case 'K': // erase in line: to its end (0) or all of it (2)
		if n == 2 {
			s.lines[s.row] = ""
		} else {
			s.lines[s.row] = truncRunes(s.lines[s.row], s.col)
		}
	case 'm', 'l', 'h': // colours, cursor visibility: nothing to model
	default:
		panic("screen: unmodelled escape sequence " + arg + string(final))
	}
}

func truncRunes(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		r = r[:n]
	}
	return string(r)
}

// transcript is everything on the screen and in its scrollback, without
// trailing spaces or a trailing empty line.
func (s *screen) transcript() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, l := range s.lines {
		out = append(out, strings.TrimRight(l, " "))
	}
	for len(out) > 0 && out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	return out
}

// count is how many lines of the transcript are exactly line.
func count(lines []string, line string) int {
	n := 0
	for _, l := range lines {
		if l == line {
			n++
		}
	}
	return n
}
