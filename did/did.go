package did

import (
	"fmt"
	"strings"
)

// MaxLength is the maximum length in bytes of a DID accepted by Parse.
const MaxLength = 2048

// MaxURLLength is the maximum length in bytes of a DID URL accepted by
// ParseURL.
const MaxURLLength = 8192

// DID is a decentralized identifier ("did:" method-name ":"
// method-specific-id), parsed and validated once by Parse.
//
// The zero DID is not a valid identifier; test for it with IsZero. DIDs are
// comparable with == (the comparison is exact, as DID Core requires) and
// can be used as map keys.
type DID struct {
	s   string // the whole DID
	sep int    // index of the ':' that ends the method name
}

// Parse parses s as a DID per the DID Core 1.0 ABNF:
//
//	did                = "did:" method-name ":" method-specific-id
//	method-name        = 1*method-char
//	method-char        = %x61-7A / DIGIT
//	method-specific-id = *( *idchar ":" ) 1*idchar
//	idchar             = ALPHA / DIGIT / "." / "-" / "_" / pct-encoded
//
// s must be at most MaxLength bytes. A DID URL (with a path, query or
// fragment) is rejected; use ParseURL for those. Errors wrap ErrInvalidDID.
func Parse(s string) (DID, error) {
	d, reason := parseDID(s)
	if reason != "" {
		return DID{}, fmt.Errorf("%w: %s", ErrInvalidDID, reason)
	}
	return d, nil
}

// parseDID parses s as a DID and returns either the DID or why it is
// invalid.
func parseDID(s string) (DID, string) {
	if len(s) > MaxLength {
		return DID{}, fmt.Sprintf("longer than %d bytes", MaxLength)
	}
	if !strings.HasPrefix(s, "did:") {
		return DID{}, `missing "did:" prefix`
	}
	i := 4
	for i < len(s) && isMethodChar(s[i]) {
		i++
	}
	switch {
	case i == 4 && (i == len(s) || s[i] == ':'):
		return DID{}, "empty method name"
	case i == len(s):
		return DID{}, "missing method-specific identifier"
	case s[i] != ':':
		return DID{}, fmt.Sprintf("invalid character at offset %d in method name (want a-z or 0-9)", i)
	}
	if off, reason := checkMethodSpecificID(s[i+1:]); reason != "" {
		return DID{}, fmt.Sprintf("%s at offset %d", reason, i+1+off)
	}
	return DID{s: s, sep: i}, ""
}

func isMethodChar(c byte) bool {
	return 'a' <= c && c <= 'z' || '0' <= c && c <= '9'
}

func isAlphaDigit(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// checkMethodSpecificID validates id against method-specific-id and returns
// the offset and reason of the first problem, or "" if id is valid.
func checkMethodSpecificID(id string) (int, string) {
	if id == "" {
		return 0, "empty method-specific identifier"
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case isAlphaDigit(c), c == '.', c == '-', c == '_', c == ':':
		case c == '%':
			if i+2 >= len(id) || !isHex(id[i+1]) || !isHex(id[i+2]) {
				return i, "malformed percent-encoding"
			}
			i += 2
		default:
			return i, "invalid character"
		}
	}
	if id[len(id)-1] == ':' {
		return len(id) - 1, "method-specific identifier ends with ':'"
	}
	return 0, ""
}

// String returns the DID as it was parsed, or "" for the zero DID.
func (d DID) String() string { return d.s }

// Method returns the method name, e.g. "web" for did:web:example.com.
func (d DID) Method() string {
	if d.s == "" {
		return ""
	}
	return d.s[4:d.sep]
}

// ID returns the method-specific identifier, still percent-encoded, e.g.
// "example.com:user:alice" for did:web:example.com:user:alice.
func (d DID) ID() string {
	if d.s == "" {
		return ""
	}
	return d.s[d.sep+1:]
}

// IsZero reports whether d is the zero DID.
func (d DID) IsZero() bool { return d.s == "" }

// MarshalText implements encoding.TextMarshaler. The zero DID marshals as
// empty text.
func (d DID) MarshalText() ([]byte, error) { return []byte(d.s), nil }

// UnmarshalText implements encoding.TextUnmarshaler. Empty text unmarshals
// to the zero DID (as net/netip does for addresses), so callers decoding a
// required DID must check IsZero.
func (d *DID) UnmarshalText(text []byte) error {
	if len(text) == 0 {
		*d = DID{}
		return nil
	}
	p, err := Parse(string(text))
	if err != nil {
		return err
	}
	*d = p
	return nil
}

// URL is a DID URL: a DID followed by an optional path, query and fragment
// (DID Core 1.0 §3.2):
//
//	did-url = did path-abempty [ "?" query ] [ "#" fragment ]
//
// Path keeps its leading "/"; Query and Fragment exclude their "?" and "#"
// delimiters. All three stay percent-encoded as in the input.
type URL struct {
	DID      DID
	Path     string
	Query    string
	Fragment string
}

// ParseURL parses s as a DID URL. s must be at most MaxURLLength bytes and
// its DID part at most MaxLength bytes. An empty query or fragment ("?" or
// "#" with nothing after it) is accepted and dropped. Errors wrap
// ErrInvalidDIDURL.
func ParseURL(s string) (URL, error) {
	if len(s) > MaxURLLength {
		return URL{}, fmt.Errorf("%w: longer than %d bytes", ErrInvalidDIDURL, MaxURLLength)
	}
	end := strings.IndexAny(s, "/?#")
	rest := ""
	if end >= 0 {
		s, rest = s[:end], s[end:]
	}
	d, reason := parseDID(s)
	if reason != "" {
		return URL{}, fmt.Errorf("%w: %s", ErrInvalidDIDURL, reason)
	}
	u := URL{DID: d}
	if rest == "" {
		return u, nil
	}
	off := len(s)
	if rest[0] == '/' {
		n := strings.IndexAny(rest, "?#")
		if n < 0 {
			n = len(rest)
		}
		u.Path = rest[:n]
		if i, ok := checkURLPart(u.Path, false); !ok {
			return URL{}, fmt.Errorf("%w: invalid character in path at offset %d", ErrInvalidDIDURL, off+i)
		}
		rest, off = rest[n:], off+n
	}
	if rest != "" && rest[0] == '?' {
		n := strings.IndexByte(rest, '#')
		if n < 0 {
			n = len(rest)
		}
		u.Query = rest[1:n]
		if i, ok := checkURLPart(u.Query, true); !ok {
			return URL{}, fmt.Errorf("%w: invalid character in query at offset %d", ErrInvalidDIDURL, off+1+i)
		}
		rest, off = rest[n:], off+n
	}
	if rest != "" {
		// Only a fragment can remain.
		u.Fragment = rest[1:]
		if i, ok := checkURLPart(u.Fragment, true); !ok {
			return URL{}, fmt.Errorf("%w: invalid character in fragment at offset %d", ErrInvalidDIDURL, off+1+i)
		}
	}
	return u, nil
}

// checkURLPart validates a path (a sequence of "/" segment) or, when
// queryOrFragment is set, a query or fragment (*( pchar / "/" / "?" )),
// per RFC 3986. It returns the offset of the first invalid byte.
func checkURLPart(s string, queryOrFragment bool) (int, bool) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isAlphaDigit(c):
		case strings.IndexByte("-._~!$&'()*+,;=:@/", c) >= 0:
		case c == '?' && queryOrFragment:
		case c == '%':
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return i, false
			}
			i += 2
		default:
			return i, false
		}
	}
	return 0, true
}

// String returns the DID URL in its string form.
func (u URL) String() string {
	if u.Path == "" && u.Query == "" && u.Fragment == "" {
		return u.DID.String()
	}
	var b strings.Builder
	b.Grow(len(u.DID.s) + len(u.Path) + len(u.Query) + len(u.Fragment) + 2)
	b.WriteString(u.DID.s)
	b.WriteString(u.Path)
	if u.Query != "" {
		b.WriteByte('?')
		b.WriteString(u.Query)
	}
	if u.Fragment != "" {
		b.WriteByte('#')
		b.WriteString(u.Fragment)
	}
	return b.String()
}

// IsZero reports whether u is the zero URL.
func (u URL) IsZero() bool { return u == URL{} }

// MarshalText implements encoding.TextMarshaler. The zero URL marshals as
// empty text.
func (u URL) MarshalText() ([]byte, error) { return []byte(u.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler. Empty text unmarshals
// to the zero URL.
func (u *URL) UnmarshalText(text []byte) error {
	if len(text) == 0 {
		*u = URL{}
		return nil
	}
	p, err := ParseURL(string(text))
	if err != nil {
		return err
	}
	*u = p
	return nil
}
