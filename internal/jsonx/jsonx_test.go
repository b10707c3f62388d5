package jsonx

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

func TestUniqueObject(t *testing.T) {
	m, err := UniqueObject([]byte(` {"a": 1, "b": {"a": 2, "a": 3}} `))
	if err != nil || string(m["a"]) != "1" || len(m) != 2 {
		t.Fatalf("valid object: %v %v", m, err)
	}
	for _, bad := range []string{`{"a":1,"a":2}`, `[]`, `"x"`, `{"a":1} {}`, `{"a":`, ``, `{"a":1}x`} {
		if _, err := UniqueObject([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	_, err = UniqueObject([]byte(`{"` + strings.Repeat("é", 100) + `":1,"` + strings.Repeat("é", 100) + `":2}`))
	if err == nil || len(err.Error()) > 120 {
		t.Fatalf("repeated long name: %v", err)
	}
}

func FuzzUniqueObject(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `{"a":1,"a":2}`, `{}`, `[1]`, `{"a":{"b":[1,2]}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := UniqueObject(b)
		if err == nil && m == nil {
			t.Fatal("nil map without error")
		}
	})
}

func TestDecode(t *testing.T) {
	v, err := Decode([]byte(`{"a":1.5,"b":[true,null,"x"]}`), 8)
	if err != nil || v.(map[string]any)["a"].(interface{ String() string }).String() != "1.5" {
		t.Fatalf("valid: %v %v", v, err)
	}
	for in, want := range map[string]error{
		`{"a":1,"a":2}`:           ErrRepeatedMember,
		`{"a":1,"\u0061":2}`:      ErrRepeatedMember, // the same name once unescaped
		"{\"\xff\":1,\"\xfe\":2}": ErrRepeatedMember, // both read as U+FFFD
		`[[[[[[[[[1]]]]]]]]]`:     ErrTooDeep,
	} {
		if _, err := Decode([]byte(in), 8); !errors.Is(err, want) {
			t.Errorf("%q: %v, want %v", in, err, want)
		}
	}
	if _, err := Decode([]byte(`{"a":1} 2`), 8); err == nil {
		t.Error("trailing data accepted")
	}
}

// FuzzFastDecode: what the fast path accepts, encoding/json's strict path
// (checkMembers, then a json.Decoder with UseNumber) accepts too, with the
// same value.
func FuzzFastDecode(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `{"a":1,"a":2}`, `["x",-0.5e+3,true,false,null,{}]`, `01`, `1.`, `-`, `1e`, `{"a":"\u00e9"}`,
		"\"\xff\"", `{"a" : [ 1 , 2 ] }  `, `{"a":1}x`, `"tab	x"`, `[[[[[[[[[1]]]]]]]]]`, `{"":0}`, `1E-7`, `-0`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fast, ok := fastDecode(data, 8)
		if !ok {
			return
		}
		if err := checkMembers(data, 8); err != nil {
			t.Fatalf("%q: fast path accepted, checkMembers: %v", data, err)
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var slow any
		if err := dec.Decode(&slow); err != nil {
			t.Fatalf("%q: fast path accepted, encoding/json: %v", data, err)
		}
		if _, err := dec.Token(); err != io.EOF {
			t.Fatalf("%q: fast path accepted trailing data", data)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%q: fast %#v, encoding/json %#v", data, fast, slow)
		}
	})
}
