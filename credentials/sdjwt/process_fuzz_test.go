package sdjwt

import (
	"reflect"
	"strings"
	"testing"
)

// FuzzProcess drives the Disclosure processing, which FuzzVerify reaches
// only behind a signature, with arbitrary payloads and Disclosures.
func FuzzProcess(f *testing.F) {
	d1, _ := NewDisclosure("salt1", "a", map[string]any{"b": 1})
	d2, _ := NewArrayElementDisclosure("salt2", "x")
	d3, _ := NewDisclosure("salt3", "c", map[string]any{"_sd": []any{d1.Digest()}})
	f.Add(`{"_sd":["`+d1.Digest()+`"],"l":[{"...":"`+d2.Digest()+`"}]}`, d1.Encoded()+"~"+d2.Encoded())
	f.Add(`{"_sd":["`+d3.Digest()+`","`+d1.Digest()+`"]}`, d3.Encoded()+"~"+d1.Encoded())
	f.Add(`{"a":1,"_sd":["`+d1.Digest()+`"]}`, d1.Encoded())
	f.Add(`{"_sd":"x"}`, "")
	f.Add(`{"l":[{"...":1}]}`, "")
	f.Fuzz(func(t *testing.T, payload, disclosures string) {
		pm, err := decodeObject([]byte(payload))
		if err != nil {
			return
		}
		var enc []string
		if disclosures != "" {
			enc = strings.Split(disclosures, "~")
		}
		set, err := decodeDisclosures(enc)
		if err != nil {
			return
		}
		before, _ := decodeObject([]byte(payload))
		out, placed, err := process(pm, set)
		if !reflect.DeepEqual(pm, before) {
			t.Fatal("process changed the payload")
		}
		if err != nil {
			return
		}
		if len(placed) != len(set.list) {
			t.Fatal("a Disclosure was not placed")
		}
		for _, pl := range placed {
			if pl == nil || len(pl.path) == 0 || len(pl.path) != len(pl.orig) {
				t.Fatalf("bad placement %+v", pl)
			}
		}
		if _, ok := out[sdKey]; ok {
			t.Fatal("_sd left in the output")
		}
	})
}
