package sdjwt

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
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
	raw, err := b64.DecodeString(encoded)
	if err != nil {
		return Disclosure{}, fail(ErrDisclosure, "not base64url: %v", err)
	}
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

// Digest returns base64url(SHA-256(encoded)), the digest of an encoded
// Disclosure (RFC 9901 section 4.2.3). The hash is over the ASCII string
// itself, not over the decoded JSON.
func Digest(encoded string) string {
	sum := sha256.Sum256([]byte(encoded))
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
