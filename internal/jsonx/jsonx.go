// Package jsonx holds strict JSON helpers shared by the protocol packages
// that parse what other parties send (request objects, responses, JOSE
// headers), where encoding/json's leniency is a risk: a repeated member
// name is read differently by different parsers, so it is refused.
package jsonx

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// ErrNotObject reports input that is not a single JSON object.
var ErrNotObject = errors.New("jsonx: not a JSON object")

// UniqueObject decodes one JSON object into its members, refusing
// duplicate member names and trailing data. Member values are left raw.
func UniqueObject(raw []byte) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, ErrNotObject
	}
	out := map[string]json.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		name, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("%w: malformed member", ErrNotObject)
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("member %q is repeated", clip(name, 64))
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		out[name] = v
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data after the object")
	}
	return out, nil
}

// Errors of Decode.
var (
	ErrRepeatedMember = errors.New("jsonx: repeated member name")
	ErrTooDeep        = errors.New("jsonx: JSON nested too deeply")
)

// Decode parses one JSON value strictly: numbers stay json.Number,
// repeated member names (compared as a decoder reads them), nesting deeper
// than maxDepth and trailing data are refused. The first two are checked
// by a linear scan of the text; the value is then decoded by encoding/json
// in one pass, which costs a fraction of walking it token by token.
func Decode(data []byte, maxDepth int) (any, error) {
	if v, ok := fastDecode(data, maxDepth); ok {
		return v, nil
	}
	if err := checkMembers(data, maxDepth); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("jsonx: data after the JSON value")
	}
	return v, nil
}

// checkMembers scans JSON text for objects with a repeated member name
// (compared after unescaping, as a decoder sees them) and for nesting
// deeper than maxDepth. It does not validate the text: on malformed input
// it may report nothing, and the decoder that follows refuses it.
func checkMembers(data []byte, maxDepth int) error {
	type frame struct {
		object    bool
		expectKey bool
		keys      map[string]struct{}
	}
	var stack []frame
	for i := 0; i < len(data); i++ {
		switch c := data[i]; c {
		case '{', '[':
			if len(stack) >= maxDepth {
				return fmt.Errorf("%w: deeper than %d", ErrTooDeep, maxDepth)
			}
			stack = append(stack, frame{object: c == '{', expectKey: c == '{'})
		case '}', ']':
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		case ',':
			if n := len(stack); n > 0 && stack[n-1].object {
				stack[n-1].expectKey = true
			}
		case ':':
			if n := len(stack); n > 0 {
				stack[n-1].expectKey = false
			}
		case '"':
			start := i
			escaped := false
			for i++; i < len(data) && data[i] != '"'; i++ {
				if data[i] == '\\' {
					escaped = true
					i++
				}
			}
			if i >= len(data) {
				return nil // unterminated: the decoder refuses it
			}
			n := len(stack)
			if n == 0 || !stack[n-1].object || !stack[n-1].expectKey {
				continue
			}
			key := string(data[start+1 : i])
			// Escapes, and invalid UTF-8 (which a decoder turns into
			// U+FFFD, so that different bytes can name one member), are
			// read as the decoder reads them.
			if escaped || !utf8.ValidString(key) {
				if err := json.Unmarshal(data[start:i+1], &key); err != nil {
					return nil // malformed: the decoder refuses it
				}
			}
			if stack[n-1].keys == nil {
				stack[n-1].keys = map[string]struct{}{}
			}
			if _, dup := stack[n-1].keys[key]; dup {
				return fmt.Errorf("%w: %q", ErrRepeatedMember, clip(key, 64))
			}
			stack[n-1].keys[key] = struct{}{}
		}
	}
	return nil
}

// clip shortens s to at most n bytes on a rune boundary, for messages.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
