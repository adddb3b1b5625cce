// Package terminal makes text that comes from images, archives and
// registries safe to print. A config's labels, history, paths inside layers
// and registry error messages are written by whoever made the image: a
// newline in them would forge output lines that scripts parse, an ESC or C1
// sequence would drive the reader's terminal (colours, clearing the screen,
// setting the window title, on some terminals worse), a bidi override
// would reorder what is shown.
package terminal

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// Escape returns s with everything but printable characters and the plain
// space escaped the way Go writes them in a string literal: \n, \r, \t,
// \x1b, \u009b, \u202e; bytes that are not UTF-8 as \xff. Printable text,
// any language's, is left as it is.
func Escape(s string) string {
	if safe(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x80 && !printable(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		case !printable(r):
			if r > 0xffff {
				fmt.Fprintf(&b, `\U%08x`, r)
			} else {
				fmt.Fprintf(&b, `\u%04x`, r)
			}
		default:
			b.WriteRune(r)
		}
		i += size
	}
	return b.String()
}

func printable(r rune) bool { return r == ' ' || unicode.IsPrint(r) }

func safe(s string) bool {
	for _, r := range s {
		if r == utf8.RuneError || !printable(r) {
			return false
		}
	}
	return true
}

// JSON escapes, inside JSON text, the characters encoding/json leaves raw
// that a terminal would act on (DEL, C1 controls, bidi and other format
// characters) as \uXXXX, which any JSON reader decodes back. Control
// characters below 0x20 are escaped by encoding/json already; the layout's
// newlines and spaces are kept.
func JSON(b []byte) []byte {
	s := string(b)
	if strings.IndexFunc(s, func(r rune) bool { return r != '\n' && r != '\t' && !printable(r) }) < 0 {
		return b
	}
	var out strings.Builder
	for _, r := range s {
		if r == '\n' || r == '\t' || printable(r) {
			out.WriteRune(r)
			continue
		}
		for _, u := range utf16.Encode([]rune{r}) {
			fmt.Fprintf(&out, `\u%04x`, u)
		}
	}
	return []byte(out.String())
}
