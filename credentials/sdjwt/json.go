package sdjwt

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/medid/medid/internal/jsonx"
)

// b64 is unpadded base64url that refuses padding and stray bits.
var b64 = base64.RawURLEncoding.Strict()

// maxDepth bounds the nesting of any JSON value this package decodes.
const maxDepth = 64

// decodeJSON parses one JSON value strictly: numbers stay json.Number,
// duplicate member names, nesting deeper than maxDepth and trailing data are
// refused (jsonx.Decode).
func decodeJSON(data []byte) (any, error) {
	return jsonx.Decode(data, maxDepth)
}

// decodeObject is decodeJSON for a value that must be an object.
func decodeObject(data []byte) (map[string]any, error) {
	v, err := decodeJSON(data)
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("not a JSON object")
	}
	return m, nil
}

// marshal encodes v as compact JSON without HTML escaping. The generic
// values this package works on (see decodeJSON) are written directly, with
// object members sorted; anything else goes through encoding/json.
func marshal(v any) ([]byte, error) {
	return appendJSON(make([]byte, 0, 256), v)
}

func appendJSON(buf []byte, v any) ([]byte, error) {
	switch t := v.(type) {
	case nil:
		return append(buf, "null"...), nil
	case bool:
		if t {
			return append(buf, "true"...), nil
		}
		return append(buf, "false"...), nil
	case string:
		return appendString(buf, t), nil
	case json.Number:
		if t != "" && isNumber(string(t)) {
			return append(buf, t...), nil
		}
	case int:
		return strconv.AppendInt(buf, int64(t), 10), nil
	case int64:
		return strconv.AppendInt(buf, t, 10), nil
	case map[string]any:
		names := make([]string, 0, len(t))
		for k := range t {
			names = append(names, k)
		}
		slices.Sort(names)
		buf = append(buf, '{')
		for i, k := range names {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = appendString(buf, k)
			buf = append(buf, ':')
			var err error
			if buf, err = appendJSON(buf, t[k]); err != nil {
				return nil, err
			}
		}
		return append(buf, '}'), nil
	case []any:
		buf = append(buf, '[')
		for i, e := range t {
			if i > 0 {
				buf = append(buf, ',')
			}
			var err error
			if buf, err = appendJSON(buf, e); err != nil {
				return nil, err
			}
		}
		return append(buf, ']'), nil
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return append(buf, bytes.TrimSuffix(out.Bytes(), []byte{'\n'})...), nil
}

// appendString writes s as a JSON string: UTF-8 as is, with the escapes
// JSON requires, invalid UTF-8 replaced by U+FFFD (as encoding/json does).
func appendString(buf []byte, s string) []byte {
	const hex = "0123456789abcdef"
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			buf = append(buf, s[start:i]...)
			switch c {
			case '"', '\\':
				buf = append(buf, '\\', c)
			case '\n':
				buf = append(buf, '\\', 'n')
			case '\r':
				buf = append(buf, '\\', 'r')
			case '\t':
				buf = append(buf, '\\', 't')
			default:
				buf = append(buf, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			buf = append(buf, s[start:i]...)
			buf = append(buf, "\\ufffd"...)
			i += size
			start = i
			continue
		}
		i += size
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}

// isNumber reports whether s is a JSON number (RFC 8259 section 6).
func isNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if i == len(s) || s[i] < '0' || s[i] > '9' {
			return false
		}
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i == len(s) || s[i] < '0' || s[i] > '9' {
			return false
		}
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	}
	return i == len(s)
}

// normalize turns any JSON-marshallable Go value of the caller's into the
// generic form this package works on (see decodeJSON). Values already in
// that form are returned as they are, not copied; other types take a trip
// through encoding/json (its fast decoder: the input is the caller's own,
// not untrusted).
func normalize(v any) (any, error) {
	n, _, err := norm(v)
	return n, err
}

// norm is normalize that also reports whether it changed v.
func norm(v any) (any, bool, error) {
	switch t := v.(type) {
	case nil, bool, string:
		return t, false, nil
	case json.Number:
		if isNumber(string(t)) {
			return t, false, nil
		}
		return nil, false, fmt.Errorf("invalid number %q", string(t))
	case int:
		return json.Number(strconv.Itoa(t)), true, nil
	case int64:
		return json.Number(strconv.FormatInt(t, 10)), true, nil
	case map[string]any:
		var out map[string]any // a copy, made once a member changes
		for k, e := range t {
			n, changed, err := norm(e)
			if err != nil {
				return nil, false, err
			}
			if changed && out == nil {
				out = maps.Clone(t)
			}
			if out != nil {
				out[k] = n
			}
		}
		if out == nil {
			return t, false, nil
		}
		return out, true, nil
	case []any:
		var out []any
		for i, e := range t {
			n, changed, err := norm(e)
			if err != nil {
				return nil, false, err
			}
			if changed && out == nil {
				out = slices.Clone(t)
			}
			if out != nil {
				out[i] = n
			}
		}
		if out == nil {
			return t, false, nil
		}
		return out, true, nil
	case []string:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = e
		}
		return out, true, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, false, err
	}
	out, err := decodeTrusted(b)
	return out, true, err
}

// decodeTrusted decodes JSON this package or its caller made, with
// encoding/json's fast decoder; untrusted input goes through decodeJSON.
func decodeTrusted(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out any
	if err := dec.Decode(&out); err != nil {
		return nil, err
	}
	return out, nil
}

// numericDate reads a JWT NumericDate (RFC 7519 section 2).
func numericDate(v any) (time.Time, error) {
	n, ok := v.(json.Number)
	if !ok {
		return time.Time{}, errors.New("not a number")
	}
	f, err := n.Float64()
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1<<53 {
		return time.Time{}, fmt.Errorf("not a valid NumericDate: %s", n)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
}
