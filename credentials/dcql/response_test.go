package dcql

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParseVPToken(t *testing.T) {
	// Section 8.1's examples.
	tok, err := ParseVPToken([]byte(`{"my_credential": ["eyJhbGci...QMA", "eyJhbGci...QMA"]}`))
	if err != nil || len(tok["my_credential"]) != 2 {
		t.Fatalf("%v %v", tok, err)
	}
	if s, ok := PresentationString(tok["my_credential"][0]); !ok || s != "eyJhbGci...QMA" {
		t.Fatalf("PresentationString: %q %v", s, ok)
	}
	tok, err = ParseVPToken([]byte(`{"ldp":[{"@context":["https://www.w3.org/2018/credentials/v1"],"type":["VerifiablePresentation"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := PresentationString(tok["ldp"][0]); ok {
		t.Fatal("an object is not a string presentation")
	}
	for _, tc := range []struct{ name, tok string }{
		{"not JSON", `{"a":`},
		{"not an object", `["x"]`},
		{"empty object", `{}`},
		{"a string, not an array", `{"a":"x"}`},
		{"empty array", `{"a":[]}`},
		{"empty presentation", `{"a":[""]}`},
		{"number presentation", `{"a":[1]}`},
		{"null presentation", `{"a":[null]}`},
		{"bad id", `{"a b":["x"]}`},
		{"duplicate ids", `{"a":["x"],"a":["y"]}`},
		{"trailing data", `{"a":["x"]}x`},
		{"too many presentations", `{"a":[` + strings.Repeat(`"x",`, MaxItems) + `"x"]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseVPToken([]byte(tc.tok)); !errors.Is(err, ErrInvalidVPToken) {
				t.Fatalf("error %v", err)
			}
		})
	}
}

func TestCheckResponse(t *testing.T) {
	alts := specQuery(t, "credentials_alternatives.json")
	plain := mustParse(t, `{"credentials":[
	  {"id":"one","format":"dc+sd-jwt","meta":{"vct_values":["v"]}},
	  {"id":"many","format":"jwt_vc_json","multiple":true,"meta":{"type_values":[["T"]]}},
	  {"id":"ld","format":"ldp_vc","meta":{"type_values":[["T"]]}}]}`)
	for _, tc := range []struct {
		name     string
		q        *Query
		tok      string
		problems []string // problem paths; nil for a valid response
	}{
		{"pid alone", alts, `{"pid":["x"]}`, nil},
		{"pid and the optional extra", alts, `{"pid":["x"],"nice_to_have":["y"]}`, nil},
		{"two reduced", alts, `{"pid_reduced_cred_1":["x"],"pid_reduced_cred_2":["y"]}`, nil},
		{"two alternatives at once", alts, `{"pid":["x"],"other_pid":["y"]}`, nil},
		{"one reduced only", alts, `{"pid_reduced_cred_1":["x"]}`, []string{"credential_sets[0]"}},
		{"only the optional", alts, `{"nice_to_have":["y"]}`, []string{"credential_sets[0]"}},
		{"multiple not allowed", alts, `{"pid":["x","y"]}`, []string{"vp_token.pid"}},
		{"unknown id", alts, `{"pid":["x"],"nope":["y"]}`, []string{"vp_token.nope"}},
		{"an object for dc+sd-jwt", alts, `{"pid":[{}]}`, []string{"vp_token.pid[0]"}},
		{"all answered", plain, `{"one":["a"],"many":["b","c","d"],"ld":[{"type":"VerifiablePresentation"}]}`, nil},
		{"one missing", plain, `{"one":["a"],"ld":[{}]}`, []string{"vp_token"}},
		{"a string for ldp_vc", plain, `{"one":["a"],"many":["b"],"ld":["x"]}`, []string{"vp_token.ld[0]"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := ParseVPToken([]byte(tc.tok))
			if err != nil {
				t.Fatal(err)
			}
			err = tc.q.CheckResponse(tok)
			if tc.problems == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrResponseMismatch) {
				t.Fatalf("error %v", err)
			}
			if got := problemPaths(t, err); !slices.Equal(got, tc.problems) {
				t.Fatalf("problems at %q, want %q (%v)", got, tc.problems, err)
			}
		})
	}
	// A query-level id that no credential set names was not requested.
	q := mustParse(t, `{"credentials":[{"id":"a","format":"mso_mdoc","meta":{"doctype_value":"d"}},{"id":"b","format":"mso_mdoc","meta":{"doctype_value":"d"}}],
	  "credential_sets":[{"options":[["a"]]}]}`)
	tok, _ := ParseVPToken([]byte(`{"a":["x"],"b":["y"]}`))
	if err := q.CheckResponse(tok); !errors.Is(err, ErrResponseMismatch) {
		t.Fatalf("unrequested b accepted: %v", err)
	}
}
