package sdjwt

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"unicode/utf8"

	"github.com/medid/medid/internal/jsonx"
)

// SHA256 is the only _sd_alg this package creates and accepts; an SD-JWT
// without _sd_alg uses it too (RFC 9901 section 4.1.1).
const SHA256 = "sha-256"

// Reserved names (RFC 9901 section 4.2.4): an object's digests are listed
// under "_sd", an array element's digest under "...", and the payload names
// its hash function in "_sd_alg". None of them may be a claim name.
const (
	sdKey      = "_sd"
	ellipsis   = "..."
	sdAlgClaim = "_sd_alg"
)

// saltBytes is the salt length: 128 bits, as RFC 9901 section 9.3
// recommends.
const saltBytes = 16

// Disclosure is one selectively disclosable claim: a salt, a claim name
// (absent for an array element) and a value, together with its encoded form
// (base64url of the JSON array) and digest. The encoded form is the source of
// truth: digests are computed over it exactly as it was received.
//
// A Disclosure prints only its digest, so that claim values do not end up in
// logs by accident.
type Disclosure struct {
	salt    string
	name    string
	hasName bool
	value   any
	encoded string
	digest  string
}

// NewDisclosure returns the Disclosure of an object member. The value is
// encoded as compact JSON; a json.RawMessage value is embedded verbatim (it
// must be valid JSON), which allows reproducing a given encoding exactly.
func NewDisclosure(salt, name string, value any) (Disclosure, error) {
	if err := checkName(name); err != nil {
		return Disclosure{}, err
	}
	return newDisclosure(salt, name, true, value)
}

// NewArrayElementDisclosure returns the Disclosure of an array element; see
// NewDisclosure for how value is encoded.
func NewArrayElementDisclosure(salt string, value any) (Disclosure, error) {
	return newDisclosure(salt, "", false, value)
}

func checkName(name string) error {
	if name == sdKey || name == ellipsis {
		return fmt.Errorf("sdjwt: %q cannot be a claim name", name)
	}
	return nil
}

func newDisclosure(salt, name string, hasName bool, value any) (Disclosure, error) {
	if salt == "" {
		return Disclosure{}, errors.New("sdjwt: empty salt")
	}
	var raw []byte
	if r, ok := value.(json.RawMessage); ok {
		raw = r
	} else {
		v, err := normalize(value)
		if err != nil {
			return Disclosure{}, fmt.Errorf("sdjwt: disclosure value: %w", err)
		}
		if raw, err = marshal(v); err != nil {
			return Disclosure{}, err
		}
	}
	// Value is decoded from the encoding, so it is the Disclosure's own
	// copy and exactly what a Verifier will see.
	v, err := decodeJSON(raw)
	if err != nil {
		return Disclosure{}, fmt.Errorf("sdjwt: disclosure value: %w", err)
	}
	value = v
	return encodeDisclosure(nil, salt, name, hasName, value, raw)
}

// scratch holds buffers reused across the Disclosures of one issuance.
type scratch struct{ json, b64 []byte }

// encodeDisclosure builds the JSON array as RFC 9901's examples print it,
// with ", " between the elements, around raw, the value's JSON (written from
// value if raw is nil). sc may be nil.
func encodeDisclosure(sc *scratch, salt, name string, hasName bool, value any, raw []byte) (Disclosure, error) {
	if sc == nil {
		sc = &scratch{}
	}
	buf := append(sc.json[:0], '[')
	buf = appendString(buf, salt)
	buf = append(buf, ", "...)
	if hasName {
		buf = appendString(buf, name)
		buf = append(buf, ", "...)
	}
	if raw != nil {
		buf = append(buf, raw...)
	} else {
		var err error
		if buf, err = appendJSON(buf, value); err != nil {
			return Disclosure{}, err
		}
	}
	buf = append(buf, ']')
	enc := b64.AppendEncode(sc.b64[:0], buf)
	sc.json, sc.b64 = buf, enc
	sum := sha256.Sum256(enc)
	return Disclosure{
		salt: salt, name: name, hasName: hasName, value: value,
		encoded: string(enc), digest: b64.EncodeToString(sum[:]),
	}, nil
}

// DecodeDisclosure parses an encoded Disclosure: unpadded base64url of a JSON
// array [salt, name, value] or [salt, value]. The salt and the name must be
// strings, and the name may not be "_sd" or "...".
func DecodeDisclosure(encoded string) (Disclosure, error) {
	buf, err := segment(encoded)
	if err != nil {
		return Disclosure{}, fail(ErrDisclosure, "not base64url: %v", err)
	}
	defer putBuf(buf) // what is decoded from it is copied
	raw := *buf
	if salt, name, hasName, value, ok := plainDisclosure(raw); ok {
		return Disclosure{salt: salt, name: name, hasName: hasName, value: value, encoded: encoded, digest: Digest(encoded)}, nil
	}
	return decodeDisclosureJSON(encoded, raw)
}

// decodeDisclosureJSON is DecodeDisclosure for raw, the decoded JSON of any
// form.
func decodeDisclosureJSON(encoded string, raw []byte) (Disclosure, error) {
	v, err := decodeJSON(raw)
	if err != nil {
		return Disclosure{}, fail(ErrDisclosure, "%v", err)
	}
	arr, ok := v.([]any)
	if !ok || (len(arr) != 2 && len(arr) != 3) {
		return Disclosure{}, fail(ErrDisclosure, "not an array of 2 or 3 elements")
	}
	salt, ok := arr[0].(string)
	if !ok {
		return Disclosure{}, fail(ErrDisclosure, "salt is not a string")
	}
	d := Disclosure{salt: salt, value: arr[len(arr)-1], encoded: encoded, digest: Digest(encoded)}
	if len(arr) == 3 {
		name, ok := arr[1].(string)
		if !ok {
			return Disclosure{}, fail(ErrDisclosure, "claim name is not a string")
		}
		if err := checkName(name); err != nil {
			return Disclosure{}, fail(ErrDisclosure, "%q cannot be a claim name", name)
		}
		d.name, d.hasName = name, true
	}
	return d, nil
}

// plainDisclosure reads the common form of a Disclosure's JSON array
// directly: a salt and a claim name without escapes, control characters or
// invalid UTF-8, then the value (decoded as decodeJSON does). ok is false
// for anything else, which DecodeDisclosure then decodes in full, for its
// checks and its error.
func plainDisclosure(raw []byte) (salt, name string, hasName bool, value any, ok bool) {
	text := string(raw) // salt and name are slices of it
	i := skipSpace(text, 0)
	if i == len(text) || text[i] != '[' {
		return "", "", false, nil, false
	}
	end := len(text)
	for end > i && isSpace(text[end-1]) {
		end--
	}
	if end == i || text[end-1] != ']' {
		return "", "", false, nil, false
	}
	end--
	salt, i, ok = plainString(text, skipSpace(text, i+1))
	if !ok {
		return "", "", false, nil, false
	}
	if i = skipSpace(text, i); i == end || text[i] != ',' {
		return "", "", false, nil, false
	}
	i = skipSpace(text, i+1)
	if n, j, isString := plainString(text, i); isString {
		if j = skipSpace(text, j); j < end && text[j] == ',' {
			if checkName(n) != nil {
				return "", "", false, nil, false
			}
			name, hasName, i = n, true, j+1
		}
	}
	v, err := jsonx.Decode(raw[i:end], maxDepth-1)
	if err != nil {
		return "", "", false, nil, false
	}
	return salt, name, hasName, v, true
}

// plainString reads the JSON string at text[i:] if it has no escapes,
// control characters or invalid UTF-8, returning it and the index after
// it.
func plainString(text string, i int) (string, int, bool) {
	if i >= len(text) || text[i] != '"' {
		return "", 0, false
	}
	for j := i + 1; j < len(text); j++ {
		switch c := text[j]; {
		case c == '"':
			s := text[i+1 : j]
			return s, j + 1, utf8.ValidString(s)
		case c == '\\' || c < 0x20:
			return "", 0, false
		}
	}
	return "", 0, false
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// skipSpace returns the index of the first non-whitespace byte of text at
// or after i.
func skipSpace(text string, i int) int {
	for i < len(text) && isSpace(text[i]) {
		i++
	}
	return i
}

// Digest returns base64url(SHA-256(encoded)), the digest of an encoded
// Disclosure (RFC 9901 section 4.2.3). The hash is over the ASCII string
// itself, not over the decoded JSON.
func Digest(encoded string) string {
	sum := sum256(encoded)
	return b64.EncodeToString(sum[:])
}

// Salt returns the salt.
func (d Disclosure) Salt() string { return d.salt }

// Name returns the claim name and true, or "" and false for an array element.
func (d Disclosure) Name() (string, bool) { return d.name, d.hasName }

// Value returns the claim value in decoded form. Callers must not modify it.
func (d Disclosure) Value() any { return d.value }

// Encoded returns the Disclosure as it travels: unpadded base64url of the
// JSON array.
func (d Disclosure) Encoded() string { return d.encoded }

// Digest returns the digest of the encoded Disclosure.
func (d Disclosure) Digest() string { return d.digest }

// IsZero reports whether d is the zero Disclosure.
func (d Disclosure) IsZero() bool { return d.encoded == "" }

// String names the Disclosure by its digest only.
func (d Disclosure) String() string { return "sdjwt.Disclosure(" + d.digest + ")" }

// GoString is String, so that %#v prints no claim value either.
func (d Disclosure) GoString() string { return d.String() }

// Format writes String for every verb.
func (d Disclosure) Format(f fmt.State, _ rune) { io.WriteString(f, d.String()) }

// LogValue makes slog log String.
func (d Disclosure) LogValue() slog.Value { return slog.StringValue(d.String()) }

// newSalt returns a fresh 128-bit salt from r.
func newSalt(r io.Reader) (string, error) {
	var b [saltBytes]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", fmt.Errorf("sdjwt: salt: %w", err)
	}
	return b64.EncodeToString(b[:]), nil
}

// newDecoy returns a decoy digest: the hash of a random value, so that it
// looks like any other digest (RFC 9901 section 4.2.5).
func newDecoy(r io.Reader) (string, error) {
	var b [saltBytes]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", fmt.Errorf("sdjwt: decoy: %w", err)
	}
	return Digest(b64.EncodeToString(b[:])), nil
}
