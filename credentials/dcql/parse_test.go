package dcql

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
)

const sdMeta = `"meta":{"vct_values":["https://x.example/t"]}`

func TestParseRefuses(t *testing.T) {
	cred := func(body string) string {
		return `{"credentials":[{"id":"c","format":"dc+sd-jwt",` + sdMeta + body + `}]}`
	}
	for _, tc := range []struct {
		name, query string
		paths       []string // the problem paths reported, in order
	}{
		{"not JSON", `{`, []string{""}},
		{"not an object", `[]`, []string{""}},
		{"trailing data", `{"credentials":[]} {}`, []string{""}},
		{"duplicate member", `{"credentials":[{"id":"c","id":"d","format":"dc+sd-jwt",` + sdMeta + `}]}`, []string{""}},
		{"no credentials", `{}`, []string{"credentials"}},
		{"empty credentials", `{"credentials":[]}`, []string{"credentials"}},
		{"credentials not an array", `{"credentials":{}}`, []string{"credentials"}},
		{"credential not an object", `{"credentials":[1]}`, []string{"credentials[0]"}},
		{"no id", `{"credentials":[{"format":"dc+sd-jwt",` + sdMeta + `}]}`, []string{"credentials[0].id"}},
		{"bad id", `{"credentials":[{"id":"a b","format":"dc+sd-jwt",` + sdMeta + `}]}`, []string{"credentials[0].id"}},
		{"empty id", `{"credentials":[{"id":"","format":"dc+sd-jwt",` + sdMeta + `}]}`, []string{"credentials[0].id"}},
		{"duplicate ids", `{"credentials":[{"id":"c","format":"dc+sd-jwt",` + sdMeta + `},{"id":"c","format":"dc+sd-jwt",` + sdMeta + `}]}`, []string{"credentials[1].id"}},
		{"no format", `{"credentials":[{"id":"c",` + sdMeta + `}]}`, []string{"credentials[0].format"}},
		{"unknown format", `{"credentials":[{"id":"c","format":"vc+sd-jwt",` + sdMeta + `}]}`, []string{"credentials[0].format"}},
		{"multiple not a boolean", cred(`,"multiple":"yes"`), []string{"credentials[0].multiple"}},
		{"holder binding not a boolean", cred(`,"require_cryptographic_holder_binding":1`), []string{"credentials[0].require_cryptographic_holder_binding"}},
		{"no meta", `{"credentials":[{"id":"c","format":"dc+sd-jwt"}]}`, []string{"credentials[0].meta"}},
		{"meta not an object", `{"credentials":[{"id":"c","format":"dc+sd-jwt","meta":[]}]}`, []string{"credentials[0].meta"}},
		{"no vct_values", `{"credentials":[{"id":"c","format":"dc+sd-jwt","meta":{}}]}`, []string{"credentials[0].meta.vct_values"}},
		{"empty vct_values", `{"credentials":[{"id":"c","format":"dc+sd-jwt","meta":{"vct_values":[]}}]}`, []string{"credentials[0].meta.vct_values"}},
		{"vct_values not strings", `{"credentials":[{"id":"c","format":"dc+sd-jwt","meta":{"vct_values":["a",1,""]}}]}`, []string{"credentials[0].meta.vct_values[1]", "credentials[0].meta.vct_values[2]"}},
		{"type_values on dc+sd-jwt", `{"credentials":[{"id":"c","format":"dc+sd-jwt","meta":{"vct_values":["a"],"type_values":[["b"]]}}]}`, []string{"credentials[0].meta.type_values"}},
		{"no type_values", `{"credentials":[{"id":"c","format":"jwt_vc_json","meta":{}}]}`, []string{"credentials[0].meta.type_values"}},
		{"type_values not nested", `{"credentials":[{"id":"c","format":"ldp_vc","meta":{"type_values":["a"]}}]}`, []string{"credentials[0].meta.type_values[0]"}},
		{"empty inner type_values", `{"credentials":[{"id":"c","format":"ldp_vc","meta":{"type_values":[[]]}}]}`, []string{"credentials[0].meta.type_values[0]"}},
		{"no doctype_value", `{"credentials":[{"id":"c","format":"mso_mdoc","meta":{}}]}`, []string{"credentials[0].meta.doctype_value"}},
		{"doctype_value not a string", `{"credentials":[{"id":"c","format":"mso_mdoc","meta":{"doctype_value":["a"]}}]}`, []string{"credentials[0].meta.doctype_value"}},
		{"vct_values on mso_mdoc", `{"credentials":[{"id":"c","format":"mso_mdoc","meta":{"doctype_value":"d","vct_values":["a"]}}]}`, []string{"credentials[0].meta.vct_values"}},
		{"empty trusted_authorities", cred(`,"trusted_authorities":[]`), []string{"credentials[0].trusted_authorities"}},
		{"trusted authority without type", cred(`,"trusted_authorities":[{"values":["a"]}]`), []string{"credentials[0].trusted_authorities[0].type"}},
		{"trusted authority with empty values", cred(`,"trusted_authorities":[{"type":"aki","values":[]}]`), []string{"credentials[0].trusted_authorities[0].values"}},
		{"empty claims", cred(`,"claims":[]`), []string{"credentials[0].claims"}},
		{"claim without path", cred(`,"claims":[{"id":"a"}]`), []string{"credentials[0].claims[0].path"}},
		{"empty path", cred(`,"claims":[{"path":[]}]`), []string{"credentials[0].claims[0].path"}},
		{"negative index", cred(`,"claims":[{"path":["a",-1]}]`), []string{"credentials[0].claims[0].path[1]"}},
		{"fractional index", cred(`,"claims":[{"path":["a",1.5]}]`), []string{"credentials[0].claims[0].path[1]"}},
		{"exponent index", cred(`,"claims":[{"path":["a",1e2]}]`), []string{"credentials[0].claims[0].path[1]"}},
		{"object in path", cred(`,"claims":[{"path":["a",{}]}]`), []string{"credentials[0].claims[0].path[1]"}},
		{"boolean in path", cred(`,"claims":[{"path":[true]}]`), []string{"credentials[0].claims[0].path[0]"}},
		{"path too long", cred(`,"claims":[{"path":[` + strings.Repeat(`"a",`, MaxPathLength) + `"a"]}]`), []string{"credentials[0].claims[0].path"}},
		{"same claim twice", cred(`,"claims":[{"path":["a",null]},{"path":["a",null]}]`), []string{"credentials[0].claims[1].path"}},
		{"duplicate claim ids", cred(`,"claims":[{"id":"x","path":["a"]},{"id":"x","path":["b"]}]`), []string{"credentials[0].claims[1].id"}},
		{"bad claim id", cred(`,"claims":[{"id":"x.y","path":["a"]}]`), []string{"credentials[0].claims[0].id"}},
		{"empty values", cred(`,"claims":[{"path":["a"],"values":[]}]`), []string{"credentials[0].claims[0].values"}},
		{"null, float, object values", cred(`,"claims":[{"path":["a"],"values":["ok",null,1.5,{},7,true]}]`),
			[]string{"credentials[0].claims[0].values[1]", "credentials[0].claims[0].values[2]", "credentials[0].claims[0].values[3]"}},
		{"integer value beyond 64 bits", cred(`,"claims":[{"path":["a"],"values":[99999999999999999999]}]`), []string{"credentials[0].claims[0].values[0]"}},
		{"intent_to_retain outside mdoc", cred(`,"claims":[{"path":["a"],"intent_to_retain":true}]`), []string{"credentials[0].claims[0].intent_to_retain"}},
		{"mdoc path of one component", `{"credentials":[{"id":"c","format":"mso_mdoc","meta":{"doctype_value":"d"},"claims":[{"path":["ns"]}]}]}`, []string{"credentials[0].claims[0].path"}},
		{"mdoc path with an index", `{"credentials":[{"id":"c","format":"mso_mdoc","meta":{"doctype_value":"d"},"claims":[{"path":["ns",0]}]}]}`, []string{"credentials[0].claims[0].path"}},
		{"claim_sets without claims", cred(`,"claim_sets":[["a"]]`), []string{"credentials[0].claim_sets", "credentials[0].claim_sets[0][0]"}},
		{"claim_sets with a claim without id", cred(`,"claims":[{"id":"a","path":["a"]},{"path":["b"]}],"claim_sets":[["a"]]`), []string{"credentials[0].claims[1].id"}},
		{"claim_sets naming an unknown claim", cred(`,"claims":[{"id":"a","path":["a"]}],"claim_sets":[["a","b"]]`), []string{"credentials[0].claim_sets[0][1]"}},
		{"claim_sets repeating a claim", cred(`,"claims":[{"id":"a","path":["a"]}],"claim_sets":[["a","a"]]`), []string{"credentials[0].claim_sets[0][1]"}},
		{"empty claim set", cred(`,"claims":[{"id":"a","path":["a"]}],"claim_sets":[[]]`), []string{"credentials[0].claim_sets[0]"}},
		{"empty claim_sets", cred(`,"claims":[{"id":"a","path":["a"]}],"claim_sets":[]`), []string{"credentials[0].claim_sets"}},
		{"empty credential_sets", cred(``)[:len(cred(``))-1] + `,"credential_sets":[]}`, []string{"credential_sets"}},
		{"credential set without options", cred(``)[:len(cred(``))-1] + `,"credential_sets":[{}]}`, []string{"credential_sets[0].options"}},
		{"credential set option naming no query", cred(``)[:len(cred(``))-1] + `,"credential_sets":[{"options":[["c","d"]]}]}`, []string{"credential_sets[0].options[0][1]"}},
		{"credential set option empty", cred(``)[:len(cred(``))-1] + `,"credential_sets":[{"options":[[]]}]}`, []string{"credential_sets[0].options[0]"}},
		{"required not a boolean", cred(``)[:len(cred(``))-1] + `,"credential_sets":[{"options":[["c"]],"required":"no"}]}`, []string{"credential_sets[0].required"}},
		{"too long", `{"credentials":[` + strings.Repeat(" ", MaxQueryLength) + `]}`, []string{""}},
		{"too deep", strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1), []string{""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q, err := Parse([]byte(tc.query))
			if err == nil {
				t.Fatalf("accepted: %+v", q)
			}
			if !errors.Is(err, ErrInvalidQuery) {
				t.Fatalf("error %v does not wrap ErrInvalidQuery", err)
			}
			if got := problemPaths(t, err); !slices.Equal(got, tc.paths) {
				t.Fatalf("problems at %q, want %q (%v)", got, tc.paths, err)
			}
		})
	}
}

func TestParseDefaultsAndUnknownMembers(t *testing.T) {
	// Unknown members are ignored (OpenID4VP section 6: implementations
	// MUST ignore them), at every level.
	q := mustParse(t, `{"x":1,"credentials":[{"id":"c","format":"mso_mdoc","future":{},"meta":{"doctype_value":"d","other":1},
	  "claims":[{"path":["ns","el"],"intent_to_retain":false,"extra":null}]}],
	  "credential_sets":[{"options":[["c"]],"purpose":"why"}]}`)
	c := q.Credentials[0]
	if !c.RequireHolderBinding || c.Multiple || !q.CredentialSets[0].Required {
		t.Fatalf("defaults not applied: %+v %+v", c, q.CredentialSets)
	}
	if c.Claims[0].IntentToRetain == nil || *c.Claims[0].IntentToRetain {
		t.Fatalf("intent_to_retain %v", c.Claims[0].IntentToRetain)
	}
	q = mustParse(t, `{"credentials":[{"id":"c","format":"dc+sd-jwt",`+sdMeta+`,"multiple":true,"require_cryptographic_holder_binding":false,
	  "claims":[{"path":["a",0,null],"values":["s",-3,true,12345678901234]}]}],"credential_sets":[{"options":[["c"]],"required":false}]}`)
	c = q.Credentials[0]
	if c.RequireHolderBinding || !c.Multiple || q.CredentialSets[0].Required {
		t.Fatalf("explicit values not kept: %+v %+v", c, q.CredentialSets)
	}
	if want := []any{"s", int64(-3), true, int64(12345678901234)}; !slices.Equal(c.Claims[0].Values, want) {
		t.Fatalf("values %#v", c.Claims[0].Values)
	}
	if !c.Claims[0].Path.Equal(Path{"a", 0, nil}) {
		t.Fatalf("path %v", c.Claims[0].Path)
	}
}

func TestErrorsDoNotQuoteValues(t *testing.T) {
	const secret = "Zaphod-Beeblebrox-1234"
	for _, q := range []string{
		`{"credentials":[{"id":"c","format":"dc+sd-jwt",` + sdMeta + `,"claims":[{"path":["a"],"values":["` + secret + `",{}]}]}]}`,
		`{"credentials":[{"id":"c","format":"` + secret + `",` + sdMeta + `}]}`,
		`{"credentials":[{"id":"c","format":"dc+sd-jwt",` + sdMeta + `,"claims":[{"path":["` + secret + `", -1]}]}]}`,
	} {
		_, err := Parse([]byte(q))
		if err == nil || strings.Contains(err.Error(), secret) {
			t.Fatalf("error %v", err)
		}
	}
}

func TestUnmarshalJSONParses(t *testing.T) {
	var req struct {
		Query Query `json:"dcql_query"`
	}
	if err := jsonUnmarshal(`{"dcql_query":{"credentials":[{"id":"c","format":"dc+sd-jwt","meta":{}}]}}`, &req); !errors.Is(err, ErrInvalidQuery) {
		t.Fatalf("invalid embedded query: %v", err)
	}
	if err := jsonUnmarshal(`{"dcql_query":{"credentials":[{"id":"c","format":"dc+sd-jwt",`+sdMeta+`}]}}`, &req); err != nil || req.Query.Credentials[0].ID != "c" {
		t.Fatalf("%v %+v", err, req)
	}
}

func TestValidateBuiltQuery(t *testing.T) {
	q := &Query{Credentials: []CredentialQuery{{ID: "c", Format: FormatSDJWTVC, RequireHolderBinding: true, Meta: Meta{VCTValues: []string{"v"}},
		Claims: []ClaimQuery{{ID: "a", Path: Path{"a"}}}, ClaimSets: [][]string{{"a", "b"}}}}}
	if err := q.Validate(); !errors.Is(err, ErrInvalidQuery) {
		t.Fatalf("Validate: %v", err)
	}
	q.Credentials[0].ClaimSets = [][]string{{"a"}}
	if err := q.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
}

func TestMarshalByValue(t *testing.T) {
	q := mustParse(t, `{"credentials":[{"id":"c","format":"dc+sd-jwt",`+sdMeta+`}]}`)
	b, err := json.Marshal(struct {
		Q Query `json:"dcql_query"`
	}{*q})
	if err != nil || string(b) != `{"dcql_query":{"credentials":[{"id":"c","format":"dc+sd-jwt","meta":{"vct_values":["https://x.example/t"]}}]}}` {
		t.Fatalf("%s %v", b, err)
	}
}
