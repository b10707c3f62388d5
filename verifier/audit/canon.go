package audit

import (
	"strconv"
	"unicode/utf8"
)

// canonWriter writes the RFC 8785 (JCS) form of a flat JSON object
// directly, for the two objects this package commits to on every entry
// (Canonical and LedgerEntry). It gives the bytes that encoding/json
// followed by a JCS transform gives (TestCanonicalMatchesJCS and
// FuzzCanonical check this), without building the JSON twice and parsing
// it once in between, which was most of an entry's CPU.
//
// The caller writes the members in JCS order: names sorted by their
// UTF-16 code units, which for the ASCII names used here is byte order.
type canonWriter struct {
	b     []byte
	first bool
}

func newCanonWriter(size int) *canonWriter {
	w := &canonWriter{b: make([]byte, 0, size), first: true}
	w.b = append(w.b, '{')
	return w
}

func (w *canonWriter) name(n string) {
	if !w.first {
		w.b = append(w.b, ',')
	}
	w.first = false
	w.b = append(w.b, '"')
	w.b = append(w.b, n...)
	w.b = append(w.b, '"', ':')
}

// str writes the member n: s.
func (w *canonWriter) str(n, s string) {
	w.name(n)
	w.b = appendCanonString(w.b, s)
}

// strOmit writes n: s unless s is empty (omitempty).
func (w *canonWriter) strOmit(n, s string) {
	if s != "" {
		w.str(n, s)
	}
}

// strsOmit writes n: ss unless ss is empty (omitempty).
func (w *canonWriter) strsOmit(n string, ss []string) {
	if len(ss) == 0 {
		return
	}
	w.name(n)
	w.b = append(w.b, '[')
	for i, s := range ss {
		if i > 0 {
			w.b = append(w.b, ',')
		}
		w.b = appendCanonString(w.b, s)
	}
	w.b = append(w.b, ']')
}

// uint writes n: v. v must be at most maxExactInt: JCS numbers are IEEE
// doubles, and larger integers are not written as their digits.
func (w *canonWriter) uint(n string, v uint64) {
	w.name(n)
	w.b = strconv.AppendUint(w.b, v, 10)
}

func (w *canonWriter) bytes() []byte { return append(w.b, '}') }

// maxExactInt is the largest integer up to which every integer is an
// IEEE double, and so is written by JCS as its decimal digits.
const maxExactInt = 1 << 53

// appendCanonString appends s as a JCS string: as JSON.stringify writes
// it (only '"', '\\' and the control characters escaped; the short forms
// \b \t \n \f \r, \u00xx in lower case for the others), after
// encoding/json's coercion to valid UTF-8 (each invalid byte becomes
// U+FFFD).
func appendCanonString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\t':
				b = append(b, '\\', 't')
			case '\n':
				b = append(b, '\\', 'n')
			case '\f':
				b = append(b, '\\', 'f')
			case '\r':
				b = append(b, '\\', 'r')
			default:
				const hex = "0123456789abcdef"
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = utf8.AppendRune(b, utf8.RuneError)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
