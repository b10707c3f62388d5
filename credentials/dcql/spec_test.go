package dcql

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
)

// The examples of OpenID4VP 1.0 (sections 6.4, appendix B and appendix D),
// in testdata/spec, each parse, survive a round trip through MarshalJSON,
// and mean what the specification says they mean.

func TestSpecExamplesParseAndRoundTrip(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "spec", "*.json"))
	if err != nil || len(files) < 8 {
		t.Fatalf("spec examples: %v %v", files, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			q := specQuery(t, filepath.Base(f))
			b, err := json.Marshal(q)
			if err != nil {
				t.Fatal(err)
			}
			q2, err := Parse(b)
			if err != nil {
				t.Fatalf("re-parse %s: %v", b, err)
			}
			if !reflect.DeepEqual(q, q2) {
				t.Fatalf("round trip changed the query:\n%+v\n%+v", q, q2)
			}
			// The marshalled form is the original, modulo white space.
			orig, _ := os.ReadFile(f)
			var a, bb any
			json.Unmarshal(orig, &a)
			json.Unmarshal(b, &bb)
			if !reflect.DeepEqual(a, bb) {
				t.Fatalf("MarshalJSON differs from the example:\n%s", b)
			}
		})
	}
}

func TestSpecSimple(t *testing.T) {
	q := specQuery(t, "simple.json")
	if len(q.Credentials) != 1 || q.CredentialSets != nil {
		t.Fatalf("%+v", q)
	}
	c := q.Credentials[0]
	if c.ID != "my_credential" || c.Format != FormatSDJWTVC || c.Multiple || !c.RequireHolderBinding ||
		!slices.Equal(c.Meta.VCTValues, []string{"https://credentials.example.com/identity_credential"}) {
		t.Fatalf("%+v", c)
	}
	if got := paths(c.ClaimPaths()); got != `[["family_name"],["given_name"],["address","street_address"]]` {
		t.Fatalf("claim paths %s", got)
	}
}

// Section 7.4: the claims path pointer examples on Arthur Dent's
// credential.
func TestSpecClaimsPathPointers(t *testing.T) {
	cred := claims(t, `{
	  "name": "Arthur Dent",
	  "address": {"street_address": "42 Market Street", "locality": "Milliways", "postal_code": "12345"},
	  "degrees": [
	    {"type": "Bachelor of Science", "university": "University of Betelgeuse"},
	    {"type": "Master of Science", "university": "University of Betelgeuse"}
	  ],
	  "nationalities": ["British", "Betelgeusian"]
	}`)
	for _, tc := range []struct {
		path   string
		values string
		paths  string
	}{
		{`["name"]`, `["Arthur Dent"]`, `[["name"]]`},
		{`["address"]`, `[{"locality":"Milliways","postal_code":"12345","street_address":"42 Market Street"}]`, `[["address"]]`},
		{`["address","street_address"]`, `["42 Market Street"]`, `[["address","street_address"]]`},
		{`["degrees",null,"type"]`, `["Bachelor of Science","Master of Science"]`, `[["degrees",0,"type"],["degrees",1,"type"]]`},
		{`["nationalities",1]`, `["Betelgeusian"]`, `[["nationalities",1]]`},
	} {
		p, err := ParsePath([]byte(tc.path))
		if err != nil {
			t.Fatalf("%s: %v", tc.path, err)
		}
		sel, err := p.Select(cred)
		if err != nil {
			t.Fatalf("%s: %v", tc.path, err)
		}
		var vals []any
		var ps []Path
		for _, s := range sel {
			vals = append(vals, s.Value)
			ps = append(ps, s.Path)
		}
		if b, _ := json.Marshal(vals); string(b) != tc.values {
			t.Errorf("%s selected %s, want %s", tc.path, b, tc.values)
		}
		if got := paths(ps); got != tc.paths {
			t.Errorf("%s concrete paths %s, want %s", tc.path, got, tc.paths)
		}
	}
}

// Appendix D: pid, or other_pid, or both reduced credentials; and
// optionally nice_to_have.
func TestSpecCredentialsAlternatives(t *testing.T) {
	q := specQuery(t, "credentials_alternatives.json")
	const (
		pidVCT     = "https://credentials.example.com/identity_credential"
		otherVCT   = "https://othercredentials.example/pid"
		reducedVCT = "https://credentials.example.com/reduced_identity_credential"
		resVCT     = "https://cred.example/residence_credential"
		rewardsVCT = "https://company.example/company_rewards"
	)
	full := `{"given_name":"A","family_name":"B","address":{"street_address":"C"}}`
	pid := sdCand(t, pidVCT, full)
	other := sdCand(t, otherVCT, full)
	red1 := sdCand(t, reducedVCT, `{"given_name":"A","family_name":"B"}`)
	red2 := sdCand(t, resVCT, `{"postal_code":"1","locality":"L","region":"R"}`)
	rewards := sdCand(t, rewardsVCT, `{"rewards_number":"9"}`)
	noStreet := sdCand(t, pidVCT, `{"given_name":"A","family_name":"B","address":{"locality":"X"}}`)

	for _, tc := range []struct {
		name      string
		wallet    []Candidate
		satisfied bool
		selected  []string
	}{
		{"pid and rewards", []Candidate{rewards, pid}, true, []string{"pid", "nice_to_have"}},
		{"pid preferred over other_pid", []Candidate{other, pid}, true, []string{"pid"}},
		{"other_pid", []Candidate{other}, true, []string{"other_pid"}},
		{"both reduced", []Candidate{red2, red1}, true, []string{"pid_reduced_cred_1", "pid_reduced_cred_2"}},
		{"one reduced is not enough", []Candidate{red1, rewards}, false, nil},
		{"a pid without the street address does not match", []Candidate{noStreet}, false, nil},
		{"empty wallet", nil, false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := q.Match(tc.wallet)
			if r.Satisfied != tc.satisfied || !slices.Equal(r.Selected, tc.selected) {
				t.Fatalf("satisfied %v selected %v, want %v %v", r.Satisfied, r.Selected, tc.satisfied, tc.selected)
			}
			if len(r.Sets) != 2 || !r.Sets[0].Required || r.Sets[1].Required {
				t.Fatalf("sets %+v", r.Sets)
			}
		})
	}
	r := q.Match([]Candidate{other, pid, red1, red2})
	if !slices.Equal(r.Sets[0].Satisfiable, []int{0, 1, 2}) || r.Sets[1].Satisfiable != nil {
		t.Fatalf("satisfiable options %+v", r.Sets)
	}
	if m := r.Matches["pid"]; len(m) != 1 || m[0].Candidate != 1 ||
		paths(m[0].Disclose) != `[["given_name"],["family_name"],["address","street_address"]]` {
		t.Fatalf("pid match %+v", m)
	}
}

// Appendix D: an ID from an mDL or a photo ID, and optionally an address
// from either.
func TestSpecComplexMdoc(t *testing.T) {
	q := specQuery(t, "complex_mdoc.json")
	mdoc := func(doctype string, elems string) Candidate {
		return Candidate{Format: FormatMDoc, Doctype: doctype, HolderBinding: true,
			Claims: claims(t, `{"org.iso.18013.5.1":`+elems+`}`)}
	}
	all := `{"given_name":"A","family_name":"B","portrait":"P","resident_address":"R","resident_country":"C"}`
	mdl := mdoc("org.iso.18013.5.1.mDL", all)
	photo := mdoc("org.iso.23220.photoid.1", all)
	noPortrait := mdoc("org.iso.18013.5.1.mDL", `{"given_name":"A","family_name":"B"}`)

	r := q.Match([]Candidate{photo, mdl})
	if !r.Satisfied || !slices.Equal(r.Selected, []string{"mdl-id", "mdl-address"}) {
		t.Fatalf("%+v", r)
	}
	r = q.Match([]Candidate{photo})
	if !r.Satisfied || !slices.Equal(r.Selected, []string{"photo_card-id", "photo_card-address"}) {
		t.Fatalf("%+v", r)
	}
	r = q.Match([]Candidate{noPortrait})
	if r.Satisfied || r.Selected != nil {
		t.Fatalf("an mDL without portrait satisfied the ID set: %+v", r)
	}
	if got := paths(q.Match([]Candidate{mdl}).Matches["mdl-id"][0].Disclose); got != `[["org.iso.18013.5.1","given_name"],["org.iso.18013.5.1","family_name"],["org.iso.18013.5.1","portrait"]]` {
		t.Fatalf("disclose %s", got)
	}
}

// Appendix D: last_name and date_of_birth, and postal_code or else both
// locality and region. The claim sets are in the verifier's order of
// preference, and the first one the credential satisfies is chosen.
func TestSpecClaimsAlternatives(t *testing.T) {
	q := specQuery(t, "claims_alternatives.json")
	const vct = "https://credentials.example.com/identity_credential"
	for _, tc := range []struct {
		name     string
		cred     string
		claimSet int
		disclose string
	}{
		{"all claims: first option", `{"last_name":"L","postal_code":"P","locality":"Lo","region":"R","date_of_birth":"D"}`, 0,
			`[["last_name"],["locality"],["region"],["date_of_birth"]]`},
		{"no region: second option", `{"last_name":"L","postal_code":"P","locality":"Lo","date_of_birth":"D"}`, 1,
			`[["last_name"],["postal_code"],["date_of_birth"]]`},
		{"no date of birth: no match", `{"last_name":"L","postal_code":"P","locality":"Lo","region":"R"}`, -2, ""},
		{"neither postal code nor region: no match", `{"last_name":"L","locality":"Lo","date_of_birth":"D"}`, -2, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := q.Match([]Candidate{sdCand(t, vct, tc.cred)})
			m := r.Matches["pid"]
			if tc.claimSet == -2 {
				if m != nil || r.Satisfied {
					t.Fatalf("matched: %+v", r)
				}
				return
			}
			if len(m) != 1 || m[0].ClaimSet != tc.claimSet || paths(m[0].Disclose) != tc.disclose {
				t.Fatalf("got %+v, want claim set %d disclosing %s", m, tc.claimSet, tc.disclose)
			}
		})
	}
}

// Appendix D: values restrict family_name and postal_code; the type must
// match too.
func TestSpecValueMatching(t *testing.T) {
	q := specQuery(t, "value_matching_simple.json")
	const vct = "https://credentials.example.com/identity_credential"
	for _, tc := range []struct {
		cred  string
		match bool
	}{
		{`{"family_name":"Doe","given_name":"J","address":{"street_address":"S"},"postal_code":"90210"}`, true},
		{`{"family_name":"Doe","given_name":"J","address":{"street_address":"S"},"postal_code":"90211"}`, true},
		{`{"family_name":"Doe","given_name":"J","address":{"street_address":"S"},"postal_code":"90212"}`, false},
		{`{"family_name":"Roe","given_name":"J","address":{"street_address":"S"},"postal_code":"90210"}`, false},
		{`{"family_name":"Doe","given_name":"J","address":{"street_address":"S"},"postal_code":90210}`, false},
		{`{"family_name":"Doe","given_name":"J","address":{"street_address":"S"}}`, false},
	} {
		r := q.Match([]Candidate{sdCand(t, vct, tc.cred)})
		if r.Satisfied != tc.match {
			t.Errorf("%s: satisfied %v, want %v", tc.cred, r.Satisfied, tc.match)
		}
	}
}

// Appendix B.1.1: type_values lists alternatives, each a set of types
// that must all be present, in any order, among others.
func TestSpecTypeValues(t *testing.T) {
	q := mustParse(t, `{"credentials":[{"id":"degree","format":"ldp_vc","meta":{"type_values":[
	  ["https://www.w3.org/2018/credentials#VerifiableCredential","https://example.org/examples#AlumniCredential","https://example.org/examples#BachelorDegree"],
	  ["https://www.w3.org/2018/credentials#VerifiableCredential","https://example.org/examples#UniversityDegreeCredential"],
	  ["IdentityCredential"]]}}]}`)
	const vc, ex = "https://www.w3.org/2018/credentials#VerifiableCredential", "https://example.org/examples#"
	for _, tc := range []struct {
		types []string
		match bool
	}{
		{[]string{vc, ex + "UniversityDegreeCredential"}, true},
		{[]string{vc, ex + "BachelorDegree", ex + "AlumniCredential"}, true},
		{[]string{vc, "IdentityCredential"}, true},
		{[]string{vc, ex + "BachelorDegree"}, false},
		{[]string{vc}, false},
	} {
		r := q.Match([]Candidate{{Format: FormatLDPVC, Types: tc.types, HolderBinding: true, Claims: map[string]any{}}})
		if r.Satisfied != tc.match {
			t.Errorf("%v: satisfied %v, want %v", tc.types, r.Satisfied, tc.match)
		}
	}
	// Without Types, the credential's own "type" member is used.
	q = specQuery(t, "dcql_jwt_vc.json")
	cred := claims(t, `{"type":["VerifiableCredential","IDCredential"],"credentialSubject":{"given_name":"A","family_name":"B"}}`)
	r := q.Match([]Candidate{{Format: FormatJWTVCJSON, Claims: cred, HolderBinding: true}})
	if !r.Satisfied || paths(r.Matches["example_jwt_vc"][0].Disclose) != `[["credentialSubject","family_name"],["credentialSubject","given_name"]]` {
		t.Fatalf("%+v", r)
	}
}
