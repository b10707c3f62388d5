package dcql

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
)

const vctX = "https://x.example/t"

func TestMatchCredentialConstraints(t *testing.T) {
	q := mustParse(t, `{"credentials":[
	  {"id":"bound","format":"dc+sd-jwt","meta":{"vct_values":["`+vctX+`"]}},
	  {"id":"unbound","format":"dc+sd-jwt","meta":{"vct_values":["`+vctX+`"]},"require_cryptographic_holder_binding":false},
	  {"id":"trusted","format":"dc+sd-jwt","meta":{"vct_values":["`+vctX+`"]},
	   "trusted_authorities":[{"type":"aki","values":["s9tIpPmhxdiuNkHMEWNpYim8S8Y"]},{"type":"openid_federation","values":["https://ta.example"]}]}
	]}`)
	base := Candidate{Format: FormatSDJWTVC, VCT: vctX, Claims: map[string]any{}, HolderBinding: true}
	with := func(f func(*Candidate)) Candidate { c := base; f(&c); return c }
	for _, tc := range []struct {
		name string
		cand Candidate
		want []string // the queries it matches
	}{
		{"bound, no authority", base, []string{"bound", "unbound"}},
		{"no holder binding", with(func(c *Candidate) { c.HolderBinding = false }), []string{"unbound"}},
		{"other vct", with(func(c *Candidate) { c.VCT = "https://x.example/u" }), nil},
		{"vct from the claims", with(func(c *Candidate) { c.VCT = ""; c.Claims = map[string]any{"vct": vctX} }), []string{"bound", "unbound"}},
		{"other format", with(func(c *Candidate) { c.Format = FormatJWTVCJSON }), nil},
		{"federation anchor", with(func(c *Candidate) { c.Authorities = []Authority{{AuthorityOpenIDFed, "https://ta.example"}} }), []string{"bound", "unbound", "trusted"}},
		{"aki", with(func(c *Candidate) { c.Authorities = []Authority{{"aki", "s9tIpPmhxdiuNkHMEWNpYim8S8Y"}} }), []string{"bound", "unbound", "trusted"}},
		{"value under the wrong type", with(func(c *Candidate) { c.Authorities = []Authority{{"etsi_tl", "https://ta.example"}} }), []string{"bound", "unbound"}},
		{"unknown anchor", with(func(c *Candidate) { c.Authorities = []Authority{{AuthorityOpenIDFed, "https://other.example"}} }), []string{"bound", "unbound"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := q.Match([]Candidate{tc.cand})
			var got []string
			for _, cq := range q.Credentials {
				if len(r.Matches[cq.ID]) > 0 {
					got = append(got, cq.ID)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("matches %v, want %v", got, tc.want)
			}
		})
	}
}

func TestMatchWildcardsAndValues(t *testing.T) {
	q := mustParse(t, `{"credentials":[{"id":"c","format":"dc+sd-jwt","meta":{"vct_values":["`+vctX+`"]},"claims":[
	  {"path":["identifiers",null,"value"]},
	  {"path":["identifiers",null,"type"],"values":["NHI"]},
	  {"path":["age"],"values":[42]},
	  {"path":["active"],"values":[true]}
	]}]}`)
	cred := `{"identifiers":[{"type":"MRN","value":"m"},{"type":"NHI","value":"n"},{"type":"NHI","value":"o"}],"age":42,"active":true}`
	r := q.Match([]Candidate{sdCand(t, vctX, cred)})
	if !r.Satisfied {
		t.Fatalf("not satisfied: %+v", r)
	}
	// Every identifier value, but only the NHI types: a value-restricted
	// claim discloses only the elements whose value matches.
	want := `[["identifiers",0,"value"],["identifiers",1,"value"],["identifiers",2,"value"],["identifiers",1,"type"],["identifiers",2,"type"],["age"],["active"]]`
	if got := paths(r.Matches["c"][0].Disclose); got != want {
		t.Fatalf("disclose %s\nwant     %s", got, want)
	}
	for _, bad := range []string{
		`{"identifiers":[{"type":"MRN","value":"m"}],"age":42,"active":true}`,          // no NHI
		`{"identifiers":[{"type":"NHI","value":"n"}],"age":"42","active":true}`,        // age a string
		`{"identifiers":[{"type":"NHI","value":"n"}],"age":42.5,"active":true}`,        // age not 42
		`{"identifiers":[{"type":"NHI","value":"n"}],"age":42,"active":"true"}`,        // active a string
		`{"identifiers":[],"age":42,"active":true}`,                                    // nothing selected
		`{"identifiers":{"type":"NHI","value":"n"},"age":42,"active":true}`,            // null on an object
		`{"identifiers":[{"type":"NHI","value":"n"}, "loose"],"age":42,"active":true}`, // a key into a string
	} {
		if r := q.Match([]Candidate{sdCand(t, vctX, bad)}); r.Satisfied {
			t.Errorf("matched %s", bad)
		}
	}
	// 42.0 is the integer 42.
	if r := q.Match([]Candidate{sdCand(t, vctX, `{"identifiers":[{"type":"NHI","value":"n"}],"age":42.0,"active":true}`)}); !r.Satisfied {
		t.Error("42.0 did not match 42")
	}
}

func TestValueMatches(t *testing.T) {
	for _, tc := range []struct {
		want, got any
		ok        bool
	}{
		{"a", "a", true}, {"a", "b", false}, {"1", json.Number("1"), false},
		{int64(1), json.Number("1"), true}, {int64(1), json.Number("1.0"), true}, {int64(1), json.Number("10e-1"), true},
		{int64(1), json.Number("1.5"), false}, {int64(1), float64(1), true}, {int64(1), float64(1.5), false},
		{int64(1), "1", false}, {int64(1), true, false}, {int64(1), 1, true}, {int64(1), int64(2), false},
		{true, true, true}, {true, false, false}, {true, "true", false}, {false, nil, false},
		{int64(1 << 60), float64(1 << 60), false}, // beyond 2^53 a float cannot be trusted to be exact
		{int64(1), json.Number("1e999999999"), false},
		{3.0, 3.0, false}, // only string, int64 and bool are requested values
	} {
		if got := ValueMatches(tc.want, tc.got); got != tc.ok {
			t.Errorf("ValueMatches(%#v, %#v) = %v", tc.want, tc.got, got)
		}
	}
}

func TestMatchMultipleAndOrder(t *testing.T) {
	q := mustParse(t, `{"credentials":[{"id":"c","format":"dc+sd-jwt","multiple":true,"meta":{"vct_values":["`+vctX+`"]},"claims":[{"path":["n"]}]}]}`)
	wallet := []Candidate{sdCand(t, vctX, `{"n":1}`), sdCand(t, vctX, `{"m":1}`), sdCand(t, vctX, `{"n":2}`)}
	r := q.Match(wallet)
	var idxs []int
	for _, m := range r.Matches["c"] {
		idxs = append(idxs, m.Candidate)
	}
	if !slices.Equal(idxs, []int{0, 2}) || !slices.Equal(r.Selected, []string{"c"}) {
		t.Fatalf("matches %v selected %v", idxs, r.Selected)
	}
}

func TestMatchHugeSelectionIsRefused(t *testing.T) {
	// Nested arrays whose cross product exceeds maxSelection.
	inner := "[" + strings.Repeat("0,", 99) + "0]"
	mid := "[" + strings.Repeat(inner+",", 99) + inner + "]"
	p := Path{"a", nil, nil}
	if _, err := p.Select(claims(t, `{"a":`+mid+`}`)); !errors.Is(err, ErrPathMismatch) {
		t.Fatalf("Select over 10000 elements: %v", err)
	}
}

func TestSelectErrors(t *testing.T) {
	cred := claims(t, `{"a":{"b":[1,2]},"s":"x"}`)
	for _, tc := range []struct {
		path Path
		err  error
	}{
		{Path{"nope"}, ErrClaimNotFound},
		{Path{"a", "b", 5}, ErrClaimNotFound},
		{Path{"a", 0}, ErrPathMismatch},
		{Path{"a", nil}, ErrPathMismatch},
		{Path{"s", "t"}, ErrPathMismatch},
		{Path{"a", "b", "c"}, ErrPathMismatch},
		{Path{}, ErrInvalidPath},
		{Path{-1}, ErrInvalidPath},
		{Path{1.5}, ErrInvalidPath},
	} {
		if _, err := tc.path.Select(cred); !errors.Is(err, tc.err) {
			t.Errorf("%v: %v, want %v", tc.path, err, tc.err)
		}
	}
	if _, err := (Path{"a"}).Select([]any{}); !errors.Is(err, ErrPathMismatch) {
		t.Errorf("a non-object root: %v", err)
	}
}

func TestCheckPresentation(t *testing.T) {
	q := mustParse(t, `{"credentials":[{"id":"c","format":"dc+sd-jwt","meta":{"vct_values":["`+vctX+`"]},
	  "claims":[{"id":"g","path":["given_name"]},{"id":"f","path":["family_name"]},{"id":"b","path":["birthdate"]}],
	  "claim_sets":[["g","f","b"],["g","b"]]}]}`)
	m, err := q.CheckPresentation("c", sdCand(t, vctX, `{"given_name":"A","birthdate":"2000-01-01"}`))
	if err != nil || m.ClaimSet != 1 {
		t.Fatalf("%+v %v", m, err)
	}
	for _, tc := range []struct {
		name string
		id   string
		cand Candidate
		msg  string
	}{
		{"unknown query", "d", sdCand(t, vctX, `{}`), "no Credential Query"},
		{"missing claim", "c", sdCand(t, vctX, `{"given_name":"A"}`), "no claim_sets option"},
		{"wrong type", "c", sdCand(t, "https://evil.example/t", `{"given_name":"A","birthdate":"2000-01-01"}`), "vct"},
		{"not key bound", "c", func() Candidate {
			c := sdCand(t, vctX, `{"given_name":"A","birthdate":"2000-01-01"}`)
			c.HolderBinding = false
			return c
		}(), "holder binding"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := q.CheckPresentation(tc.id, tc.cand)
			if !errors.Is(err, ErrResponseMismatch) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %v, want one about %q", err, tc.msg)
			}
			if strings.Contains(err.Error(), "2000-01-01") {
				t.Fatalf("error quotes a claim value: %v", err)
			}
		})
	}
}
