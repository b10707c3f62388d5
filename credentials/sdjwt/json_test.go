package sdjwt

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// TestMarshalMatchesEncodingJSON: the direct encoder writes what
// encoding/json (without HTML escaping) would, up to equivalent escapes.
func TestMarshalMatchesEncodingJSON(t *testing.T) {
	for _, v := range []any{
		nil, true, false, "", "plain", "Möbius", "港区", "quote\" back\\slash", "ctl\x00\x01\x1f\n\r\t\b\f",
		"bad\xffutf8", "<html>&", "\u2028\u2029", json.Number("-1.5e+10"), json.Number("0"),
		1, int64(-7), 2.5, []string{"a"},
		map[string]any{"b": []any{1, "x", nil, map[string]any{}}, "a": map[string]any{"z": true, "": json.Number("3")}},
	} {
		got, err := marshal(v)
		if err != nil {
			t.Fatalf("%#v: %v", v, err)
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			t.Fatal(err)
		}
		var a, b any
		if err := json.Unmarshal(got, &a); err != nil {
			t.Fatalf("%#v: marshal wrote invalid JSON %s", v, got)
		}
		_ = json.Unmarshal(buf.Bytes(), &b)
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%#v: %s, encoding/json %s", v, got, buf.Bytes())
		}
	}
	if _, err := marshal(json.Number("1x")); err == nil {
		t.Error("marshal wrote an invalid number")
	}
}

func FuzzMarshalString(f *testing.F) {
	f.Add("Möbius\x00\"\\\xff")
	f.Fuzz(func(t *testing.T, s string) {
		got, _ := marshal(s)
		want, _ := json.Marshal(s)
		var a, b string
		if err := json.Unmarshal(got, &a); err != nil {
			t.Fatalf("invalid JSON %q", got)
		}
		_ = json.Unmarshal(want, &b)
		if a != b {
			t.Fatalf("%q decodes to %q, want %q", got, a, b)
		}
	})
}
