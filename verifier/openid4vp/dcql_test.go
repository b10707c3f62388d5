package openid4vp

import (
	"encoding/json"
	"strings"
	"testing"
)

// The DCQL engine checks every verified presentation against its
// Credential Query and the set against the credential sets.
func TestDCQLSatisfied(t *testing.T) {
	q := json.RawMessage(`{"credentials":[
	  {"id":"pid","format":"dc+sd-jwt","meta":{"vct_values":["https://x/vct/PID"]},
	   "claims":[{"id":"g","path":["given_name"]},{"id":"a","path":["address","locality"]},{"id":"o","path":["age_over_18"],"values":[true]}],
	   "claim_sets":[["o"],["g","a"]]},
	  {"id":"consent","format":"dc+sd-jwt","meta":{"vct_values":["https://x/vct/Consent"]},"claims":[{"path":["scopes",null]}],"multiple":true},
	  {"id":"other","format":"jwt_vc_json","meta":{"type_values":[["OtherCredential"]]}}],
	 "credential_sets":[{"options":[["pid"]]},{"options":[["consent"],["other"]],"required":true},{"options":[["other"]],"required":false}]}`)
	vp := func(claims string) *VerifiedPresentation {
		var c map[string]any
		if err := json.Unmarshal([]byte(claims), &c); err != nil {
			t.Fatal(err)
		}
		return &VerifiedPresentation{Format: "dc+sd-jwt", Claims: c, HolderBinding: true}
	}
	pidOK := vp(`{"vct":"https://x/vct/PID","age_over_18":true}`)
	consent := vp(`{"vct":"https://x/vct/Consent","scopes":["patient/Observation.rs"]}`)
	unbound := vp(`{"vct":"https://x/vct/PID","age_over_18":true}`)
	unbound.HolderBinding = false
	cases := []struct {
		name      string
		presented map[string][]*VerifiedPresentation
		wantErr   string
	}{
		{"first claim set", map[string][]*VerifiedPresentation{"pid": {pidOK}, "consent": {consent}}, ""},
		{"second claim set, multiple", map[string][]*VerifiedPresentation{"pid": {vp(`{"vct":"https://x/vct/PID","given_name":"A","address":{"locality":"L"}}`)}, "consent": {consent, consent}}, ""},
		{"value mismatch", map[string][]*VerifiedPresentation{"pid": {vp(`{"vct":"https://x/vct/PID","age_over_18":false}`)}, "consent": {consent}}, "claim_sets"},
		{"wrong vct", map[string][]*VerifiedPresentation{"pid": {vp(`{"vct":"https://x/vct/Other","age_over_18":true}`)}, "consent": {consent}}, "pid"},
		{"required set missing", map[string][]*VerifiedPresentation{"pid": {pidOK}}, "credential_sets[1]"},
		{"multiple not allowed", map[string][]*VerifiedPresentation{"pid": {pidOK, pidOK}, "consent": {consent}}, "multiple"},
		{"no holder binding", map[string][]*VerifiedPresentation{"pid": {unbound}, "consent": {consent}}, "holder binding"},
		{"unknown id", map[string][]*VerifiedPresentation{"zzz": {consent}}, "no Credential Query"},
		{"format mismatch", map[string][]*VerifiedPresentation{"pid": {pidOK}, "consent": {consent}, "other": {{Format: "ldp_vc", HolderBinding: true}}}, "format"},
	}
	for _, c := range cases {
		err := DCQL{}.Satisfied(q, c.presented)
		switch {
		case c.wantErr == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
			t.Errorf("%s: got %v, want %q", c.name, err, c.wantErr)
		}
	}
}

// W3C credentials (jwt_vc_json, ldp_vc) are matched with claims paths
// from the credential's root, as OpenID4VP 1.0 section 7.1 says, although
// VerifiedPresentation flattens credentialSubject.
func TestDCQLSatisfiedW3CPaths(t *testing.T) {
	for _, format := range []string{"jwt_vc_json", "ldp_vc"} {
		query := func(path string, values string) json.RawMessage {
			return json.RawMessage(`{"credentials":[{"id":"pid","format":"` + format + `",
			  "meta":{"type_values":[["PatientIdentityCredential"]]},
			  "claims":[{"path":` + path + values + `}]}]}`)
		}
		presented := map[string][]*VerifiedPresentation{"pid": {{Format: format, Issuer: "did:example:hospital", HolderBinding: true,
			Claims: map[string]any{"type": []any{"VerifiableCredential", "PatientIdentityCredential"}, "given_name": "Ada",
				"address": map[string]any{"locality": "London"}, "cnf": map[string]any{"jwk": map[string]any{"kty": "EC"}}}}}}
		for _, c := range []struct {
			path, values, wantErr string
		}{
			{`["credentialSubject","given_name"]`, ``, ""},
			{`["credentialSubject","given_name"]`, `,"values":["Ada"]`, ""},
			{`["credentialSubject","address","locality"]`, ``, ""},
			{`["issuer"]`, `,"values":["did:example:hospital"]`, ""},
			{`["type",null]`, `,"values":["PatientIdentityCredential"]`, ""},
			{`["credentialSubject","given_name"]`, `,"values":["Grace"]`, "pid"},
			{`["given_name"]`, ``, "pid"}, // not the credential's root
			{`["credentialSubject","cnf"]`, ``, "pid"},
		} {
			err := DCQL{}.Satisfied(query(c.path, c.values), presented)
			switch {
			case c.wantErr == "" && err != nil:
				t.Errorf("%s %s%s: %v", format, c.path, c.values, err)
			case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
				t.Errorf("%s %s%s: got %v, want an error naming %q", format, c.path, c.values, err, c.wantErr)
			}
		}
	}
}

func TestDCQLTemplates(t *testing.T) {
	d := DCQL{IssuerBaseURL: "https://issuer.example"}
	for _, name := range []string{"patient-identity", "consent"} {
		q, ok := d.Template(name)
		if !ok || d.CheckQuery(q) != nil {
			t.Fatalf("template %s: %s", name, q)
		}
		if !strings.Contains(string(q), `"https://issuer.example/vct/`) {
			t.Errorf("template %s has no vct: %s", name, q)
		}
	}
	if _, ok := d.Template("nope"); ok {
		t.Error("unknown template")
	}
}
