package presexch

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/medid/medid/credentials/dcql"
)

func mustDef(t *testing.T, s string) *Definition {
	t.Helper()
	d, err := Parse([]byte(s))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return d
}

func asJSON(t *testing.T, q *dcql.Query) string {
	t.Helper()
	b, err := json.Marshal(q)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestTranslate(t *testing.T) {
	for _, tc := range []struct{ name, pd, dcql string }{
		{"OpenID4VP draft SD-JWT VC example", `{
		  "id": "example_sd_jwt_vc_request",
		  "input_descriptors": [{
		    "id": "identity_credential",
		    "format": {"vc+sd-jwt": {}},
		    "constraints": {
		      "limit_disclosure": "required",
		      "fields": [
		        {"path": ["$.vct"], "filter": {"type": "string", "const": "https://credentials.example.com/identity_credential"}},
		        {"path": ["$.family_name"]},
		        {"path": ["$.given_name"]}
		      ]}}]}`,
			`{"credentials":[{"id":"identity_credential","format":"dc+sd-jwt","meta":{"vct_values":["https://credentials.example.com/identity_credential"]},` +
				`"claims":[{"id":"f1","path":["family_name"]},{"id":"f2","path":["given_name"]}]}]}`},
		{"OpenID4VP draft JWT VC example", `{
		  "id": "example_jwt_vc",
		  "input_descriptors": [{
		    "id": "id_credential",
		    "format": {"jwt_vc_json": {"proof_type": ["JsonWebSignature2020"]}},
		    "constraints": {"fields": [{"path": ["$.vc.type"], "filter": {"type": "array", "contains": {"const": "IDCredential"}}}]}}]}`,
			`{"credentials":[{"id":"id_credential","format":"jwt_vc_json","meta":{"type_values":[["IDCredential"]]}}]}`},
		{"alternative paths, values, optional fields, definition-level format", `{
		  "id": "d", "format": {"jwt_vc": {"alg": ["ES256"]}},
		  "input_descriptors": [{
		    "id": "health id",
		    "constraints": {"fields": [
		      {"path": ["$.type", "$.vc.type"], "filter": {"type": "array", "contains": {"const": "PatientIdentityCredential"}}},
		      {"path": ["$.credentialSubject.birthdate", "$.vc.credentialSubject.birthdate"]},
		      {"path": ["$.credentialSubject.identifiers[*].type"], "filter": {"type": "string", "enum": ["MRN", "NHI"]}},
		      {"path": ["$['credentialSubject']['address']['country']"], "optional": true},
		      {"path": ["$.credentialSubject.active"], "filter": {"type": "boolean", "const": true}},
		      {"path": ["$.credentialSubject.rank"], "filter": {"type": "number", "const": 3}}
		    ]}}]}`,
			`{"credentials":[{"id":"descriptor_0","format":"jwt_vc_json","meta":{"type_values":[["PatientIdentityCredential"]]},"claims":[` +
				`{"id":"f1","path":["credentialSubject","birthdate"]},{"id":"f2","path":["credentialSubject","identifiers",null,"type"],"values":["MRN","NHI"]},` +
				`{"id":"f3","path":["credentialSubject","address","country"]},{"id":"f4","path":["credentialSubject","active"],"values":[true]},` +
				`{"id":"f5","path":["credentialSubject","rank"],"values":[3]}],"claim_sets":[["f1","f2","f4","f5","f3"],["f1","f2","f4","f5"]]}]}`},
		{"mdoc", `{"id": "mdl", "input_descriptors": [{"id": "org.iso.18013.5.1.mDL", "format": {"mso_mdoc": {"alg": ["ES256"]}},
		    "constraints": {"limit_disclosure": "required", "fields": [
		      {"path": ["$['org.iso.18013.5.1']['family_name']"], "intent_to_retain": false},
		      {"path": ["$['org.iso.18013.5.1']['portrait']"]}]}}]}`,
			`{"credentials":[{"id":"descriptor_0","format":"mso_mdoc","meta":{"doctype_value":"org.iso.18013.5.1.mDL"},"claims":[` +
				`{"id":"f0","path":["org.iso.18013.5.1","family_name"],"intent_to_retain":false},{"id":"f1","path":["org.iso.18013.5.1","portrait"]}]}]}`},
		{"only optional fields", `{"id": "d", "input_descriptors": [{"id": "x", "format": {"ldp_vc": {}},
		    "constraints": {"fields": [{"path": ["$.type"], "filter": {"type": "string", "const": "T"}}, {"path": ["$.a"], "optional": true}]}}]}`,
			`{"credentials":[{"id":"x","format":"ldp_vc","meta":{"type_values":[["T"]]}}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := mustDef(t, tc.pd)
			if got := asJSON(t, d.Query); got != tc.dcql {
				t.Fatalf("got  %s\nwant %s", got, tc.dcql)
			}
			for qid, did := range d.DescriptorIDs {
				if d.Query.Credential(qid) == nil || did == "" {
					t.Fatalf("descriptor map %v", d.DescriptorIDs)
				}
			}
		})
	}
	if d := mustDef(t, `{"id":"d","format":{"jwt_vc":{}},"input_descriptors":[{"id":"health id","constraints":{"fields":[{"path":["$.type"],"filter":{"type":"array","contains":{"const":"T"}}}]}}]}`); d.DescriptorIDs["descriptor_0"] != "health id" {
		t.Fatalf("descriptor ids %v", d.DescriptorIDs)
	}
}

// The translated query matches as the definition means.
func TestTranslatedQueryMatches(t *testing.T) {
	d := mustDef(t, `{"id":"d","input_descriptors":[{"id":"pid","format":{"dc+sd-jwt":{}},"constraints":{"fields":[
	  {"path":["$.vct"],"filter":{"type":"string","enum":["https://a.example/pid","https://b.example/pid"]}},
	  {"path":["$.birthdate"]},
	  {"path":["$.nationality"],"filter":{"type":"string","const":"NL"}}]}}]}`)
	cand := func(vct, claims string) dcql.Candidate {
		var m map[string]any
		json.Unmarshal([]byte(claims), &m)
		return dcql.Candidate{Format: dcql.FormatSDJWTVC, VCT: vct, Claims: m, HolderBinding: true}
	}
	for _, tc := range []struct {
		c  dcql.Candidate
		ok bool
	}{
		{cand("https://b.example/pid", `{"birthdate":"2000-01-01","nationality":"NL"}`), true},
		{cand("https://c.example/pid", `{"birthdate":"2000-01-01","nationality":"NL"}`), false},
		{cand("https://a.example/pid", `{"birthdate":"2000-01-01","nationality":"BE"}`), false},
		{cand("https://a.example/pid", `{"nationality":"NL"}`), false},
	} {
		if r := d.Query.Match([]dcql.Candidate{tc.c}); r.Satisfied != tc.ok {
			t.Errorf("%+v: satisfied %v", tc.c, r.Satisfied)
		}
	}
}

func TestParseRefuses(t *testing.T) {
	desc := func(fields string) string {
		return `{"id":"d","input_descriptors":[{"id":"x","format":{"dc+sd-jwt":{}},"constraints":{"fields":[{"path":["$.vct"],"filter":{"type":"string","const":"v"}}` + fields + `]}}]}`
	}
	if _, err := Parse([]byte(desc(``))); err != nil {
		t.Fatalf("the base definition: %v", err)
	}
	for _, tc := range []struct{ name, pd, msg string }{
		{"not JSON", `{`, "not a JSON object"},
		{"duplicate members", `{"id":"a","id":"b","input_descriptors":[]}`, "duplicate"},
		{"no id", `{"input_descriptors":[]}`, "id"},
		{"no descriptors", `{"id":"d","input_descriptors":[]}`, "input_descriptors"},
		{"submission requirements", `{"id":"d","submission_requirements":[],"input_descriptors":[]}`, `"submission_requirements" is not supported`},
		{"group", `{"id":"d","input_descriptors":[{"id":"x","group":["A"],"format":{"ldp_vc":{}},"constraints":{"fields":[]}}]}`, `"group" is not supported`},
		{"no format", `{"id":"d","input_descriptors":[{"id":"x","constraints":{"fields":[{"path":["$.a"]}]}}]}`, "format"},
		{"two formats", `{"id":"d","input_descriptors":[{"id":"x","format":{"ldp_vc":{},"jwt_vc":{}},"constraints":{"fields":[{"path":["$.a"]}]}}]}`, "more than one format"},
		{"unknown format", `{"id":"d","input_descriptors":[{"id":"x","format":{"ldp_vp":{}},"constraints":{"fields":[{"path":["$.a"]}]}}]}`, "unsupported format"},
		{"constraints inside format (OpenID4VP draft mdoc example)", `{"id":"m","input_descriptors":[{"id":"mDL","format":{"mso_mdoc":{},"constraints":{}}}]}`, "more than one format"},
		{"no vct field", `{"id":"d","input_descriptors":[{"id":"x","format":{"dc+sd-jwt":{}},"constraints":{"fields":[{"path":["$.a"]}]}}]}`, "$.vct"},
		{"no type field", `{"id":"d","input_descriptors":[{"id":"x","format":{"ldp_vc":{}},"constraints":{"fields":[{"path":["$.a"]}]}}]}`, "$.type"},
		{"duplicate descriptor ids", `{"id":"d","input_descriptors":[{"id":"x","format":{"ldp_vc":{}},"constraints":{"fields":[{"path":["$.type"],"filter":{"const":"T"}}]}},{"id":"x","format":{"ldp_vc":{}},"constraints":{"fields":[{"path":["$.type"],"filter":{"const":"T"}}]}}]}`, "duplicate"},
		{"predicate", desc(`,{"path":["$.age"],"predicate":"required","filter":{"type":"integer","minimum":18}}`), `"predicate" is not supported`},
		{"pattern filter", desc(`,{"path":["$.a"],"filter":{"type":"string","pattern":"^x"}}`), `"pattern" is not supported`},
		{"type-only filter", desc(`,{"path":["$.a"],"filter":{"type":"string"}}`), "without const or enum"},
		{"type mismatch", desc(`,{"path":["$.a"],"filter":{"type":"string","const":3}}`), "does not match"},
		{"float const", desc(`,{"path":["$.a"],"filter":{"const":1.5}}`), "integers"},
		{"object const", desc(`,{"path":["$.a"],"filter":{"const":{}}}`), "strings, integers or booleans"},
		{"recursive descent", desc(`,{"path":["$..a"]}`), "recursive descent"},
		{"filter expression", desc(`,{"path":["$.a[?(@.b=='c')]"]}`), "no filters"},
		{"slice", desc(`,{"path":["$.a[0:2]"]}`), "subscripts"},
		{"different alternatives", desc(`,{"path":["$.a","$.b"]}`), "different claims"},
		{"status constraint", `{"id":"d","input_descriptors":[{"id":"x","format":{"dc+sd-jwt":{}},"constraints":{"statuses":{},"fields":[]}}]}`, `"statuses" is not supported`},
		{"subject_is_issuer", `{"id":"d","input_descriptors":[{"id":"x","format":{"dc+sd-jwt":{}},"constraints":{"subject_is_issuer":"required","fields":[]}}]}`, `"subject_is_issuer" is not supported`},
		{"bad limit_disclosure", `{"id":"d","input_descriptors":[{"id":"x","format":{"dc+sd-jwt":{}},"constraints":{"limit_disclosure":"never","fields":[]}}]}`, "limit_disclosure"},
		{"intent_to_retain outside mdoc", desc(`,{"path":["$.a"],"intent_to_retain":true}`), "mso_mdoc only"},
		{"mdoc path of one name", `{"id":"d","input_descriptors":[{"id":"x","format":{"mso_mdoc":{}},"constraints":{"fields":[{"path":["$.family_name"]}]}}]}`, "namespace"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.pd))
			if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %v, want one about %q", err, tc.msg)
			}
		})
	}
}

func TestParseJSONPath(t *testing.T) {
	for _, tc := range []struct{ in, out string }{
		{`$.a`, `["a"]`}, {`$.a.b`, `["a","b"]`}, {`$['a b']`, `["a b"]`}, {`$["a.b"].c`, `["a.b","c"]`},
		{`$.a[0]`, `["a",0]`}, {`$.a[12][*].b`, `["a",12,null,"b"]`}, {`$.@context`, `["@context"]`},
	} {
		p, err := ParseJSONPath(tc.in)
		if err != nil || p.String() != tc.out {
			t.Errorf("%s: %v %v", tc.in, p, err)
		}
	}
	for _, bad := range []string{``, `$`, `a.b`, `$.`, `$..a`, `$.*`, `$[`, `$[*`, `$[01]`, `$[-1]`, `$['a`, `$['']`, `$['a\'b']`,
		`$.a[?(@.x)]`, `$.a[0,1]`, `$.a[1:2]`, `$ a`, `$.a b`, `$[99999999999]`} {
		if p, err := ParseJSONPath(bad); err == nil {
			t.Errorf("%q accepted as %v", bad, p)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{"id":"d","input_descriptors":[{"id":"x","format":{"vc+sd-jwt":{}},"constraints":{"fields":[{"path":["$.vct"],"filter":{"type":"string","const":"v"}},{"path":["$.a[*].b"],"optional":true}]}}]}`,
		`{"id":"d","format":{"jwt_vc":{}},"input_descriptors":[{"id":"x","constraints":{"fields":[{"path":["$.vc.type"],"filter":{"type":"array","contains":{"const":"T"}}},{"path":["$.credentialSubject.n"],"filter":{"enum":[1,true,"s"]}}]}}]}`,
		`{"id":"m","input_descriptors":[{"id":"doc","format":{"mso_mdoc":{}},"constraints":{"fields":[{"path":["$['ns']['el']"],"intent_to_retain":true}]}}]}`,
		`{}`, `[]`, `{"id":"d","input_descriptors":[{}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := Parse(data)
		if err != nil {
			if !errors.Is(err, ErrUnsupported) {
				t.Fatalf("error %v does not wrap ErrUnsupported", err)
			}
			return
		}
		if d.Query == nil || len(d.Query.Credentials) != len(d.DescriptorIDs) {
			t.Fatalf("accepted without a matching query: %+v", d)
		}
		if err := d.Query.Validate(); err != nil {
			t.Fatalf("translated query invalid: %v", err)
		}
	})
}

func FuzzParseJSONPath(f *testing.F) {
	for _, s := range []string{`$.a`, `$['a'][0][*]`, `$..a`, `$.a[?(@)]`, `$["x"]`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseJSONPath(s)
		if err == nil && p.Check() != nil {
			t.Fatalf("%q gave an invalid path %v", s, p)
		}
	})
}
