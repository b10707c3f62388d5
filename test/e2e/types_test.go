package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/medid/medid/internal/keys"
)

// typeClaims are valid claims of each medid credential type.
func typeClaims() map[string]string {
	from := time.Now().UTC().Add(-time.Hour).Format(time.RFC3339)
	until := time.Now().UTC().Add(180 * 24 * time.Hour).Format(time.RFC3339)
	return map[string]string{
		"PatientIdentityCredential": patientClaims,
		"HealthConsentCredential": `{"patient": "did:example:patient123",
			"grantee": {"id": "did:web:clinic.example", "name": "Example Clinic", "kind": "clinic"},
			"scopes": ["patient/Observation.rs", "patient/Condition.rs?category=problem-list-item"],
			"purposes": ["TREAT"], "valid_from": "` + from + `", "valid_until": "` + until + `",
			"excluded_labels": ["PSY"], "delegable": false}`,
		"PractitionerCredential": `{"name": "Grace Hopper",
			"identifiers": [{"system": "http://hl7.org/fhir/sid/us-npi", "value": "1234567893", "type": "NPI"}],
			"licence": {"number": "MD-12345", "jurisdiction": "US-CA", "expires": "2030-12-31"},
			"role": {"system": "http://snomed.info/sct", "code": "309343006", "display": "Physician"}}`,
		"OrganizationCredential": `{"name": "Example Clinic",
			"identifiers": [{"system": "urn:oid:1.2.3.4.5", "value": "ORG-1", "type": "NATIONAL_REGISTER"}],
			"role": "clinic"}`,
	}
}

// TestEveryTypeAndFormat: each credential type in each OpenID4VCI format
// goes through an offer, the pre-authorized flow and the server's own
// verifier (signature, validity, status, schema, issuer trust).
func TestEveryTypeAndFormat(t *testing.T) {
	srv := startServer(t, tempData(t), nil)
	var md struct {
		Configs map[string]json.RawMessage `json:"credential_configurations_supported"`
	}
	getJSON(t, srv.URL+"/.well-known/openid-credential-issuer", &md)
	for typ, raw := range typeClaims() {
		for _, format := range []string{"dc+sd-jwt", "jwt_vc_json", "ldp_vc"} {
			cfg := typ + "_" + format
			t.Run(cfg, func(t *testing.T) {
				if md.Configs[cfg] == nil {
					t.Fatalf("%s is not in the issuer metadata", cfg)
				}
				var claims map[string]any
				if err := json.Unmarshal([]byte(raw), &claims); err != nil {
					t.Fatal(err)
				}
				code, o := postJSON(t, srv.URL+"/issuer/offers", srv.Admin, map[string]any{"credential_configuration_ids": []string{cfg}, "claims": claims})
				if code != http.StatusCreated {
					t.Fatalf("offer: %d %v", code, o)
				}
				holder, _ := keys.Generate(keys.ES256)
				cred := receiveRaw(t, o["offer_uri"].(string), "", cfg, holder)
				var vc any
				json.Unmarshal(cred, &vc)
				code, out := verifyVC(t, srv, vc)
				if code != 200 || out["verified"] != true {
					t.Fatalf("verify: %d %v", code, out)
				}
				got, _ := json.Marshal(out["credential"])
				if !strings.Contains(string(got), typ) {
					t.Fatalf("verified credential does not name %s: %s", typ, got)
				}
			})
		}
	}
}
