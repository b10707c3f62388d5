package jwtvc

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/medid/medid/internal/keys"
)

var b64 = base64.RawURLEncoding

// sign secures payload, a JSON object, as a compact JWS (RFC 7515 section
// 7.1) whose protected header holds alg, cty (if set), kid and typ. It is
// built directly and signed with the key's crypto.Signer: jws.Sign built
// it generically, which with json.Marshal of the claims cost about as much
// as the ES256 signature itself.
func sign(payload []byte, typ, cty string, o *IssueOptions) (string, error) {
	a := o.Key.Algorithm()
	if o.Key.Signer() == nil {
		return "", errors.New("jwtvc: no signing key")
	}
	if a != keys.ES256 && a != keys.EdDSA {
		return "", fmt.Errorf("jwtvc: unsupported key algorithm %q", a)
	}
	hdr := make([]byte, 0, 64+len(o.KID)+len(typ)+len(cty))
	hdr = append(hdr, `{"alg":`...)
	hdr = appendString(hdr, string(a))
	if cty != "" {
		hdr = append(hdr, `,"cty":`...)
		hdr = appendString(hdr, cty)
	}
	hdr = append(hdr, `,"kid":`...)
	hdr = appendString(hdr, o.KID)
	hdr = append(hdr, `,"typ":`...)
	hdr = appendString(hdr, typ)
	hdr = append(hdr, '}')
	buf := getBuf()
	defer putBuf(buf)
	in := b64.AppendEncode(*buf, hdr)
	in = append(in, '.')
	in = b64.AppendEncode(in, payload)
	*buf = in
	var sig []byte // 64 bytes for both algorithms
	if a == keys.ES256 {
		h := sha256.Sum256(in)
		der, err := o.Key.Signer().Sign(rand.Reader, h[:], crypto.SHA256)
		if err != nil {
			return "", fmt.Errorf("jwtvc: sign: %w", err)
		}
		if sig, err = keys.RawP256Signature(der); err != nil {
			return "", err
		}
	} else {
		var err error
		if sig, err = o.Key.Signer().Sign(rand.Reader, in, crypto.Hash(0)); err != nil {
			return "", fmt.Errorf("jwtvc: sign: %w", err)
		}
		if len(sig) != ed25519.SignatureSize {
			return "", errors.New("jwtvc: sign: malformed Ed25519 signature")
		}
	}
	// Built in a strings.Builder, the token is not copied again.
	var enc [86]byte // 64 bytes in base64url
	b64.Encode(enc[:], sig)
	var out strings.Builder
	out.Grow(len(in) + 1 + len(enc))
	out.Write(in)
	out.WriteByte('.')
	out.Write(enc[:])
	return out.String(), nil
}

// bufs holds the buffers of payloads and signing inputs, which do not
// outlive a call.
var bufs = sync.Pool{New: func() any { return new([]byte) }}

func getBuf() *[]byte { b := bufs.Get().(*[]byte); *b = (*b)[:0]; return b }

func putBuf(b *[]byte) {
	if cap(*b) <= MaxSize {
		bufs.Put(b)
	}
}

// encodeAndSign encodes claims as the JWS payload and signs it.
func encodeAndSign(claims map[string]any, typ, cty string, o *IssueOptions) (string, error) {
	buf := getBuf()
	defer putBuf(buf)
	b, err := appendObject(*buf, claims)
	*buf = b
	if err != nil {
		return "", err
	}
	return sign(b, typ, cty, o)
}

// appendJSON appends the JSON encoding of v to b, byte for byte what
// json.Marshal gives: object members sorted by name, HTML characters
// escaped. The types JSON decodes to (maps, slices, strings, float64,
// bool, nil) are written directly; any other value goes through
// json.Marshal.
func appendJSON(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case string:
		return appendString(b, x), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	case float64:
		return appendFloat(b, x)
	case int:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(b, x, 10), nil
	case map[string]any:
		if x == nil {
			return append(b, "null"...), nil
		}
		return appendObject(b, x)
	case []any:
		if x == nil {
			return append(b, "null"...), nil
		}
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendJSON(b, e); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	case []string:
		if x == nil {
			return append(b, "null"...), nil
		}
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, e)
		}
		return append(b, ']'), nil
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(b, raw...), nil
}

// appendObject appends m with its members sorted by name.
func appendObject(b []byte, m map[string]any) ([]byte, error) {
	var buf [32]string
	names := buf[:0]
	for k := range m {
		names = append(names, k)
	}
	slices.Sort(names)
	b = append(b, '{')
	for i, k := range names {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		var err error
		if b, err = appendJSON(b, m[k]); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

// appendString appends s as a JSON string. Strings of printable ASCII
// without HTML characters and valid UTF-8 other than U+2028 and U+2029
// are copied as they are; json.Marshal escapes the rest.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
				return appendEscaped(b, s)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && n == 1) || r == '\u2028' || r == '\u2029' {
			return appendEscaped(b, s)
		}
		i += n
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

func appendEscaped(b []byte, s string) []byte {
	raw, _ := json.Marshal(s) // a string always encodes
	return append(b, raw...)
}

// appendFloat formats f as encoding/json does (ES6 number to string).
func appendFloat(b []byte, f float64) ([]byte, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return nil, fmt.Errorf("jwtvc: unsupported number %v", f)
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// e-09 to e-9
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, nil
}
