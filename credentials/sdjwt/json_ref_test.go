package sdjwt

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
)

// The token-by-token decoder decodeJSON used before it scanned for
// repeated members itself: kept as the reference decodeJSON must agree
// with (FuzzDecodeJSONMatchesReference).

// decodeJSONReference parses one JSON value strictly: numbers stay json.Number,
// duplicate member names, nesting deeper than maxDepth and trailing data are
// refused.
func decodeJSONReference(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := decodeValue(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON value")
	}
	return v, nil
}

func decodeValue(dec *json.Decoder, depth int) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		if depth >= maxDepth {
			return nil, fmt.Errorf("JSON nested deeper than %d", maxDepth)
		}
		switch t {
		case '{':
			m := make(map[string]any)
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, ok := kt.(string)
				if !ok {
					return nil, errors.New("malformed JSON object")
				}
				if _, dup := m[k]; dup {
					return nil, fmt.Errorf("duplicate member %q", k)
				}
				v, err := decodeValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				m[k] = v
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return m, nil
		case '[':
			a := []any{}
			for dec.More() {
				v, err := decodeValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				a = append(a, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return a, nil
		}
		return nil, fmt.Errorf("unexpected %q", t)
	case string, json.Number, bool, nil:
		return t, nil
	}
	return nil, fmt.Errorf("unexpected JSON token %T", tok)
}

// FuzzDecodeJSONMatchesReference: decodeJSON accepts exactly what the
// token-by-token reference accepts, and decodes it to the same value.
func FuzzDecodeJSONMatchesReference(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `{"a":1,"a":2}`, `{"a":1,"\u0061":2}`, `{"a":{"a":1},"b":[{"a":1,"a":2}]}`,
		`[1,2,{"x":"y"}]`, `"s"`, `12.5e3`, `{"a":1} x`, `{"a":"\"","b":"\\"}`, `{"k\"":1,"k\"":2}`, `[[[[[]]]]]`,
		`{"a":[1,{"b":2,"c":{"b":3}}],"b":4}`, `{"":1,"":2}`, `{"a":1,}`, `{"a"}`, `{"a":"x", "b": null, "c": true}`, "{\"\xff\":1,\"\xfe\":2}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err1 := decodeJSON(data)
		want, err2 := decodeJSONReference(data)
		if (err1 == nil) != (err2 == nil) {
			t.Fatalf("%q: decodeJSON error %v, reference error %v", data, err1, err2)
		}
		if err1 == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: decodeJSON %#v, reference %#v", data, got, want)
		}
	})
}

func TestDecodeJSONDepth(t *testing.T) {
	deep := strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth)
	if _, err := decodeJSON([]byte(deep)); err != nil {
		t.Fatalf("%d levels refused: %v", maxDepth, err)
	}
	if _, err := decodeJSON([]byte("[" + deep + "]")); err == nil {
		t.Fatalf("%d levels accepted", maxDepth+1)
	}
}
