package e2e

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/medid/medid/internal/keys"
)

// verifyVC posts a credential to the VC-API verifier and returns the
// status and body.
func verifyVC(t *testing.T, srv *server, vc any) (int, map[string]any) {
	t.Helper()
	return postJSON(t, srv.URL+"/credentials/verify", srv.Admin, map[string]any{"verifiableCredential": vc})
}

// failedChecks lists the names of the failed checks of a verify answer.
func failedChecks(out map[string]any) []string {
	var names []string
	checks, _ := out["checks"].([]any)
	for _, c := range checks {
		m := c.(map[string]any)
		if ok, _ := m["ok"].(bool); !ok {
			names = append(names, m["name"].(string))
		}
	}
	return names
}

func patientVC(t *testing.T, base string) map[string]any {
	var subject map[string]any
	json.Unmarshal([]byte(patientClaims), &subject)
	subject["id"] = "did:example:patient"
	return map[string]any{"@context": []any{"https://www.w3.org/ns/credentials/v2", base + "/contexts/health-v1.jsonld"},
		"type": []any{"VerifiableCredential", "PatientIdentityCredential"}, "credentialSubject": subject}
}

// TestDataIntegrityIssueAndVerify: the VC-API's default format is an
// eddsa-rdfc-2022 ldp_vc (ecdsa-rdfc-2019 on request), which the server's
// verifier accepts, with its status checked; tampering, revocation and
// undefined terms are refused with the failing check or field named.
func TestDataIntegrityIssueAndVerify(t *testing.T) {
	srv := startServer(t, tempData(t), nil)
	vc := patientVC(t, srv.URL)
	issue := func(opts map[string]any) map[string]any {
		t.Helper()
		body := map[string]any{"credential": vc}
		if opts != nil {
			body["options"] = opts
		}
		code, out := postJSON(t, srv.URL+"/credentials/issue", srv.Admin, body)
		if code != http.StatusCreated {
			t.Fatalf("issue %v: %d %v", opts, code, out)
		}
		cred, ok := out["verifiableCredential"].(map[string]any)
		if !ok {
			t.Fatalf("ldp_vc is not an object: %v", out)
		}
		return cred
	}
	eddsa := issue(nil)
	proof := eddsa["proof"].(map[string]any)
	if proof["type"] != "DataIntegrityProof" || proof["cryptosuite"] != "eddsa-rdfc-2022" || eddsa["issuer"] != srv.App.IssuerDID ||
		!strings.HasPrefix(proof["verificationMethod"].(string), srv.App.IssuerDID+"#") || !strings.HasPrefix(proof["proofValue"].(string), "z") {
		t.Fatalf("default proof: %v", eddsa)
	}
	ecdsa := issue(map[string]any{"format": "ldp_vc", "cryptosuite": "ecdsa-rdfc-2019"})
	if ecdsa["proof"].(map[string]any)["cryptosuite"] != "ecdsa-rdfc-2019" {
		t.Fatalf("ecdsa proof: %v", ecdsa["proof"])
	}
	revoked := issue(nil)

	// Revoke one before any verifier fetched the lists (verifiers cache a
	// list for its ttl).
	code, out := postJSON(t, srv.URL+"/issuer/credentials/"+url.PathEscape(revoked["id"].(string))+"/status", srv.Admin, map[string]any{"action": "revoke"})
	if code != 200 {
		t.Fatalf("revoke: %d %v", code, out)
	}
	for name, cred := range map[string]map[string]any{"eddsa": eddsa, "ecdsa": ecdsa} {
		code, out := verifyVC(t, srv, cred)
		if code != 200 || out["verified"] != true || len(failedChecks(out)) != 0 {
			t.Fatalf("verify %s: %d %v", name, code, out)
		}
	}
	if code, out := verifyVC(t, srv, revoked); code != 422 || strings.Join(failedChecks(out), ",") != "status" {
		t.Fatalf("revoked: %d %v", code, out)
	}
	tampered := withMember(eddsa, "credentialSubject", withMember(eddsa["credentialSubject"].(map[string]any), "given_name", "Eve"))
	if code, out := verifyVC(t, srv, tampered); code != 422 || !contains(failedChecks(out), "signature") {
		t.Fatalf("tampered: %d %v", code, out)
	}
	// A term no context defines is refused at issuance, never dropped.
	bad := withMember(vc, "undefinedTerm", "x")
	if code, out := postJSON(t, srv.URL+"/credentials/issue", srv.Admin, map[string]any{"credential": bad}); code != 422 || !strings.HasSuffix(out["type"].(string), "#invalid-json-ld") ||
		!strings.Contains(out["detail"].(string), "undefinedTerm") {
		t.Fatalf("undefined term: %d %v", code, out)
	}
}

// TestLDPVCOverOpenID4VCI: a wallet receives an ldp_vc bound to its
// did:jwk, and the verifier accepts it.
func TestLDPVCOverOpenID4VCI(t *testing.T) {
	srv := startServer(t, tempData(t), nil)
	holder, _ := keys.Generate(keys.ES256)
	var claims map[string]any
	json.Unmarshal([]byte(patientClaims), &claims)
	_, o := postJSON(t, srv.URL+"/issuer/offers", srv.Admin, map[string]any{
		"credential_configuration_ids": []string{"PatientIdentityCredential_ldp_vc"}, "claims": claims})
	raw := receiveRaw(t, o["offer_uri"].(string), "", "PatientIdentityCredential_ldp_vc", holder)
	var cred map[string]any
	if err := json.Unmarshal(raw, &cred); err != nil {
		t.Fatalf("ldp_vc: %v %s", err, raw)
	}
	subj := cred["credentialSubject"].(map[string]any)
	if !strings.HasPrefix(subj["id"].(string), "did:jwk:") || cred["proof"].(map[string]any)["cryptosuite"] != "eddsa-rdfc-2022" {
		t.Fatalf("credential: %s", raw)
	}
	if code, out := verifyVC(t, srv, cred); code != 200 || out["verified"] != true {
		t.Fatalf("verify: %d %v", code, out)
	}
}
