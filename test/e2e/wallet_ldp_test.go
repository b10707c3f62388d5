package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestWalletHoldsAndPresentsLDPVC: the server's wallet API receives a
// PatientIdentityCredential as ldp_vc (VC 2.0 with a Data Integrity
// proof, over the server's health context), lists it as valid with its
// claims, matches a verifier session whose DCQL query asks for an ldp_vc
// by type_values and a credentialSubject claim, presents it whole as a Data Integrity VP, and the
// session is verified with the claims; the presentation is in the
// wallet's history.
func TestWalletHoldsAndPresentsLDPVC(t *testing.T) {
	srv := startServer(t, tempData(t), nil)
	tok := walletAccount(t, srv, "ada-ldp")

	var claims map[string]any
	json.Unmarshal([]byte(patientClaims), &claims)
	code, o := postJSON(t, srv.URL+"/issuer/offers", srv.Admin, map[string]any{
		"credential_configuration_ids": []string{"PatientIdentityCredential_ldp_vc"}, "claims": claims})
	wantStatus(t, "offer", code, o, http.StatusCreated)
	code, p := walletCall(t, "POST", srv.URL+"/wallet/offers", tok, map[string]any{"offer": o["offer_uri"]})
	wantStatus(t, "preview the offer", code, p, http.StatusOK)
	if optStr(p, "credentials", 0, "format") != "ldp_vc" {
		t.Fatalf("preview: %v", p)
	}
	if walk(p, "credentials", 0, "supported") != true {
		t.Fatalf("the server's wallet cannot hold this ldp_vc: it does not know the server's health context " +
			"(internal/app/wallet.go must pass walletapi.Options.JSONLDContexts: []jsonld.Context{jsonld.HealthContext(a.Config.BaseURL)})")
	}
	code, acc := walletCall(t, "POST", srv.URL+"/wallet/offers", tok, map[string]any{"offer": o["offer_uri"], "accept": true})
	wantStatus(t, "accept the offer", code, acc, http.StatusCreated)
	id := str(t, acc, "credentials", 0, "id")
	if str(t, acc, "credentials", 0, "format") != "ldp_vc" || str(t, acc, "credentials", 0, "type") != "PatientIdentityCredential" ||
		!strings.HasPrefix(str(t, acc, "credentials", 0, "issuer"), "did:medid:") {
		t.Fatalf("accepted: %v", acc)
	}
	code, list := walletCall(t, "GET", srv.URL+"/wallet/credentials", tok, nil)
	wantStatus(t, "list credentials", code, list, http.StatusOK)
	if str(t, list, "credentials", 0, "id") != id || str(t, list, "credentials", 0, "status") != "valid" {
		t.Fatalf("credentials: %v", list)
	}
	code, d := walletCall(t, "GET", srv.URL+"/wallet/credentials/"+id, tok, nil)
	wantStatus(t, "credential", code, d, http.StatusOK)
	if str(t, d, "claims", "given_name") != "Ada" || str(t, d, "status_entries", 0, "type") != "bitstring" ||
		!strings.HasPrefix(str(t, d, "holder_dids", 0), "did:jwk:") {
		t.Fatalf("credential detail: %v", d)
	}

	query := func(typ string) map[string]any {
		return map[string]any{"purpose": "Identify the patient", "dcql_query": map[string]any{
			"credentials": []any{map[string]any{"id": "pid", "format": "ldp_vc",
				"meta": map[string]any{"type_values": []any{[]any{typ}}},
				// W3C claims paths start at the credential (OpenID4VP 1.0 section 7.1).
				"claims": []any{map[string]any{"path": []any{"credentialSubject", "given_name"}, "values": []any{"Ada"}}}}}}}
	}
	// A query for another type matches nothing.
	code, other := postJSON(t, srv.URL+"/verifier/sessions", srv.Admin, query("ImmunizationCredential"))
	wantStatus(t, "session for another type", code, other, http.StatusCreated)
	code, pv := walletCall(t, "POST", srv.URL+"/wallet/presentations/preview", tok, map[string]any{"request": other["authorization_request"]})
	wantStatus(t, "preview another type", code, pv, http.StatusOK)
	if walk(pv, "satisfiable") != false || walk(pv, "credentials", 0, "matches", 0) != nil {
		t.Fatalf("another type matched: %v", pv)
	}

	code, vs := postJSON(t, srv.URL+"/verifier/sessions", srv.Admin, query("PatientIdentityCredential"))
	wantStatus(t, "verifier session", code, vs, http.StatusCreated)
	link, sid := vs["authorization_request"].(string), vs["id"].(string)
	code, pv = walletCall(t, "POST", srv.URL+"/wallet/presentations/preview", tok, map[string]any{"request": link})
	wantStatus(t, "preview the presentation", code, pv, http.StatusOK)
	if walk(pv, "satisfiable") != true || str(t, pv, "credentials", 0, "format") != "ldp_vc" ||
		str(t, pv, "credentials", 0, "matches", 0, "credential_id") != id ||
		walk(pv, "credentials", 0, "matches", 0, "selective_disclosure") != false ||
		!strings.Contains(fmt.Sprint(walk(pv, "credentials", 0, "matches", 0, "always_disclosed")), "given_name") {
		t.Fatalf("presentation preview: %v", pv)
	}
	code, res := walletCall(t, "POST", srv.URL+"/wallet/presentations", tok, map[string]any{"request": link})
	wantStatus(t, "present", code, res, http.StatusOK)
	if str(t, res, "presented", 0, "credential_id") != id || walk(res, "copy_reused") != false {
		t.Fatalf("presented: %v", res)
	}

	code, st := walletCall(t, "GET", srv.URL+"/verifier/sessions/"+sid, srv.Admin, nil)
	wantStatus(t, "session status", code, st, http.StatusOK)
	if str(t, st, "status") != "verified" || str(t, st, "credentials", "pid", 0, "format") != "ldp_vc" ||
		walk(st, "credentials", "pid", 0, "holder_binding") != true ||
		str(t, st, "credentials", "pid", 0, "claims", "given_name") != "Ada" ||
		str(t, st, "credentials", "pid", 0, "claims", "family_name") != "Lovelace" {
		t.Fatalf("session: %v", st)
	}

	code, hist := walletCall(t, "GET", srv.URL+"/wallet/presentations", tok, nil)
	wantStatus(t, "presentations", code, hist, http.StatusOK)
	if str(t, hist, "presentations", 0, "outcome") != "accepted" || str(t, hist, "presentations", 0, "credentials", 0, "credential_id") != id {
		t.Fatalf("presentations: %v", hist)
	}
	// The whole credential went, so the history names every claim, not
	// only the one the query chose.
	if got := fmt.Sprint(walk(hist, "presentations", 0, "credentials", 0, "claims")); got != "[credentialSubject.given_name credentialSubject.assurance_level credentialSubject.birthdate credentialSubject.family_name credentialSubject.gender credentialSubject.identifiers]" {
		t.Fatalf("claims in the history: %s", got)
	}
	code, h := walletCall(t, "GET", srv.URL+"/wallet/history", tok, nil)
	wantStatus(t, "history", code, h, http.StatusOK)
	if str(t, h, "history", 0, "event") != "presentation_sent" || str(t, h, "history", 0, "credential_id") != id {
		t.Fatalf("history: %v", h)
	}
}
