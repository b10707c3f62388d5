package dcql

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzParse: Parse never panics; what it accepts re-encodes to a query it
// accepts again, unchanged; and matching an accepted query against a
// small wallet and checking a response never panic either.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "spec", "*.json"))
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		`{}`, `[]`, `null`, `{"credentials":[]}`,
		`{"credentials":[{"id":"c","format":"dc+sd-jwt","meta":{"vct_values":["v"]},"claims":[{"id":"a","path":["a",null,0],"values":[1,"x",true]}],"claim_sets":[["a"]]}],"credential_sets":[{"options":[["c"]],"required":false}]}`,
		`{"credentials":[{"id":"c","format":"mso_mdoc","meta":{"doctype_value":"d"},"claims":[{"path":["n","e"],"intent_to_retain":true}]}]}`,
		`{"credentials":[{"id":"c","format":"ldp_vc","meta":{"type_values":[["A","B"]]},"trusted_authorities":[{"type":"aki","values":["x"]}]}]}`,
	} {
		f.Add([]byte(s))
	}
	wallet := []Candidate{
		{Format: FormatSDJWTVC, VCT: "v", HolderBinding: true, Claims: map[string]any{"a": []any{[]any{json.Number("1")}}, "x": "y"}},
		{Format: FormatMDoc, Doctype: "d", Claims: map[string]any{"n": map[string]any{"e": true}}},
		{Format: FormatLDPVC, Types: []string{"A", "B"}, Claims: map[string]any{}},
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		q, err := Parse(data)
		if err != nil {
			if !errors.Is(err, ErrInvalidQuery) {
				t.Fatalf("error %v does not wrap ErrInvalidQuery", err)
			}
			return
		}
		b, err := json.Marshal(q)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		q2, err := Parse(b)
		if err != nil {
			t.Fatalf("re-parse of %s: %v", b, err)
		}
		if !reflect.DeepEqual(q, q2) {
			t.Fatalf("round trip changed the query")
		}
		r := q.Match(wallet)
		if r.Satisfied != (r.Selected != nil) {
			t.Fatalf("satisfied %v but selected %v", r.Satisfied, r.Selected)
		}
		tok := VPToken{}
		for _, id := range r.Selected {
			tok[id] = []json.RawMessage{json.RawMessage(`"x"`)}
		}
		_ = q.CheckResponse(tok)
	})
}

// FuzzPath: parsing a claims path pointer and processing it against a
// credential never panics, and every claim selected sits at a concrete
// path that selects exactly it.
func FuzzPath(f *testing.F) {
	cred := `{"name":"Arthur Dent","address":{"street_address":"42 Market Street"},"degrees":[{"type":"B"},{"type":"M"}],"nationalities":["British","Betelgeusian"]}`
	for _, p := range []string{`["name"]`, `["address"]`, `["address","street_address"]`, `["degrees",null,"type"]`, `["nationalities",1]`,
		`[]`, `[null]`, `[-1]`, `[1.5]`, `["a",{}]`, `"x"`, `[1e3]`} {
		f.Add([]byte(p), []byte(cred))
	}
	f.Add([]byte(`[null,null]`), []byte(`{"a":[[1,2],[3]]}`))
	f.Fuzz(func(t *testing.T, path, credential []byte) {
		p, err := ParsePath(path)
		if err != nil {
			if !errors.Is(err, ErrInvalidPath) {
				t.Fatalf("error %v does not wrap ErrInvalidPath", err)
			}
			return
		}
		if p.Check() != nil {
			t.Fatalf("ParsePath returned an invalid path %v", p)
		}
		root, err := decodeJSON(credential)
		if err != nil {
			return
		}
		sel, err := p.Select(root)
		if err != nil {
			if !errors.Is(err, ErrClaimNotFound) && !errors.Is(err, ErrPathMismatch) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		for _, s := range sel {
			if !s.Path.IsConcrete() || len(s.Path) != len(p) {
				t.Fatalf("selected path %v for %v", s.Path, p)
			}
			again, err := s.Path.Select(root)
			if err != nil || len(again) != 1 || !reflect.DeepEqual(again[0].Value, s.Value) {
				t.Fatalf("concrete path %v does not select its value again: %v", s.Path, err)
			}
		}
	})
}

// FuzzParseVPToken: ParseVPToken never panics, and what it accepts has
// only valid ids and non-empty arrays of strings or objects.
func FuzzParseVPToken(f *testing.F) {
	for _, s := range []string{`{"my_credential":["eyJhbGci...QMA"]}`, `{"a":[{"type":"VerifiablePresentation"}],"b":["x","y"]}`,
		`{}`, `{"a":[]}`, `{"a":[1]}`, `{"a b":["x"]}`, `{"a":["x"],"a":["y"]}`, `[]`} {
		f.Add([]byte(s))
	}
	q := specQuery(f, "credentials_alternatives.json")
	f.Fuzz(func(t *testing.T, data []byte) {
		tok, err := ParseVPToken(data)
		if err != nil {
			if !errors.Is(err, ErrInvalidVPToken) {
				t.Fatalf("error %v does not wrap ErrInvalidVPToken", err)
			}
			return
		}
		for id, ps := range tok {
			if !IsValidID(id) || len(ps) == 0 {
				t.Fatalf("accepted entry %q with %d presentations", id, len(ps))
			}
			for _, p := range ps {
				if _, ok := PresentationString(p); !ok && (len(p) == 0 || p[0] != '{') {
					t.Fatalf("accepted presentation %s", p)
				}
			}
		}
		if err := q.CheckResponse(tok); err != nil && !errors.Is(err, ErrResponseMismatch) {
			t.Fatalf("CheckResponse: %v", err)
		}
	})
}
