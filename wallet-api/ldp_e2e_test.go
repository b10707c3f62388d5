package walletapi_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/medid/medid/credentials/jsonld"
	walletapi "github.com/medid/medid/wallet-api"
)

const ldpCfg = "PatientIdentityCredential_ldp_vc"

// startLDPWallet is startPresenter with the JSON-LD contexts the wallet
// knows (none: the bundled ones only) and status lists fetched on every
// list.
func startLDPWallet(t *testing.T, contexts ...jsonld.Context) (*server, *wire) {
	t.Helper()
	return startPresenterWith(t, func(o *walletapi.Options) {
		o.JSONLDContexts = contexts
		o.StatusTTL, o.StatusMaxStale = time.Nanosecond, time.Nanosecond
	})
}

// ldpQuery is a verifier session body asking for an ldp_vc by type.
func ldpQuery(purpose string) map[string]any {
	return map[string]any{"purpose": purpose, "dcql_query": map[string]any{
		"credentials": []any{map[string]any{"id": "pid", "format": "ldp_vc",
			"meta": map[string]any{"type_values": []any{[]any{"PatientIdentityCredential"}}}}}}}
}

// requestObject fetches a session's request object and returns its
// claims (unverified: the test only needs nonce, state and response_uri).
func requestObject(t *testing.T, link string) map[string]any {
	t.Helper()
	l, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(l.Query().Get("request_uri"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	parts := strings.Split(string(b), ".")
	if len(parts) != 3 {
		t.Fatalf("request object: %s", b)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	return claims
}

// postVPToken posts a vp_token to a request's response_uri as a wallet
// would (direct_post) and returns the verifier's HTTP status.
func postVPToken(t *testing.T, req map[string]any, tok map[string][]json.RawMessage) int {
	t.Helper()
	b, _ := json.Marshal(tok)
	resp, err := http.PostForm(req["response_uri"].(string), url.Values{"vp_token": {string(b)}, "state": {req["state"].(string)}})
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// withMember returns a copy of m with k set to v.
func withMember(m map[string]any, k string, v any) map[string]any {
	out := make(map[string]any, len(m))
	for a, b := range m {
		out[a] = b
	}
	out[k] = v
	return out
}

// The wallet receives an ldp_vc from the real issuer, shows it with its
// status, matches a DCQL ldp_vc query by type, presents it whole as a Data
// Integrity VP that the real verifier accepts, records it, and follows
// the issuer's suspension and revocation. A VP for one request is refused
// by another (challenge), and a changed domain is refused.
func TestLDPVCReceivePresentEndToEnd(t *testing.T) {
	s, rec := startLDPWallet(t, jsonld.HealthContext(issuerApp.URL))
	tok := signUp(t, s, "ada-ldp")

	link, _, _ := offer(t, s, ldpCfg, false)
	code, p := call(t, "POST", s.URL+"/wallet/offers", tok, map[string]any{"offer": link})
	expect(t, "preview", code, p, 200)
	c0 := p["credentials"].([]any)[0].(map[string]any)
	if c0["format"] != "ldp_vc" || c0["supported"] != true || c0["type"] != "PatientIdentityCredential" {
		t.Fatalf("preview: %v", c0)
	}
	code, acc := call(t, "POST", s.URL+"/wallet/offers", tok, map[string]any{"offer": link, "accept": true})
	expect(t, "accept", code, acc, 201)
	cred := acc["credentials"].([]any)[0].(map[string]any)
	if cred["format"] != "ldp_vc" || cred["type"] != "PatientIdentityCredential" || cred["status"] != "valid" ||
		!strings.HasPrefix(cred["issuer"].(string), "did:medid:") || cred["copies"] != json.Number("3") ||
		cred["issued_at"] == nil || cred["expires_at"] == nil {
		t.Fatalf("stored: %v", cred)
	}
	id := cred["id"].(string)
	code, l := call(t, "GET", s.URL+"/wallet/credentials", tok, nil)
	expect(t, "list", code, l, 200)
	if list := l["credentials"].([]any); len(list) != 1 || list[0].(map[string]any)["status"] != "valid" {
		t.Fatalf("list: %v", l)
	}
	code, d := call(t, "GET", s.URL+"/wallet/credentials/"+id, tok, nil)
	expect(t, "detail", code, d, 200)
	claims := d["claims"].(map[string]any)
	if claims["given_name"] != "Ada" || claims["family_name"] != "Lovelace" || claims["id"] != nil || len(claims) != 6 {
		t.Fatalf("claims: %v", claims)
	}
	holders := d["holder_dids"].([]any)
	if len(holders) != 3 || holders[0] == holders[1] || !strings.HasPrefix(holders[0].(string), "did:jwk:") {
		t.Fatalf("holder DIDs: %v", holders)
	}
	entries := d["status_entries"].([]any)
	purposes := map[string]int{}
	for _, e := range entries {
		e := e.(map[string]any)
		if e["type"] != "bitstring" {
			t.Fatalf("status entry %v", e)
		}
		purposes[e["purpose"].(string)]++
	}
	if purposes["revocation"] != 3 || purposes["suspension"] != 3 {
		t.Fatalf("status entries: %v", entries)
	}

	// Preview: the ldp_vc matches by type, and is presented whole.
	sid, vlink := verifierSession(t, s, ldpQuery("LDP"))
	req := requestObject(t, vlink)
	code, pv := call(t, "POST", s.URL+"/wallet/presentations/preview", tok, map[string]any{"request": vlink})
	expect(t, "preview presentation", code, pv, 200)
	qm := pv["credentials"].([]any)[0].(map[string]any)
	m := qm["matches"].([]any)
	if pv["satisfiable"] != true || qm["format"] != "ldp_vc" || len(m) != 1 {
		t.Fatalf("preview: %v", pv)
	}
	mc := m[0].(map[string]any)
	ad := fmt.Sprint(mc["always_disclosed"])
	if mc["credential_id"] != id || mc["selective_disclosure"] != false || mc["unused_copies"] != json.Number("3") ||
		!strings.Contains(ad, "given_name") || !strings.Contains(ad, "identifiers") {
		t.Fatalf("match: %v", mc)
	}
	n := len(rec.all())
	code, out := call(t, "POST", s.URL+"/wallet/presentations", tok, map[string]any{"request": vlink,
		"choices": map[string]any{"pid": map[string]any{"claims": []any{[]any{"credentialSubject", "given_name"}}}}})
	expect(t, "choose claims of an ldp_vc", code, out, 400)
	if len(rec.all()) != n {
		t.Fatal("a refused choice was sent")
	}

	code, res := call(t, "POST", s.URL+"/wallet/presentations", tok, map[string]any{"request": vlink})
	expect(t, "present", code, res, 200)
	st := sessionStatus(t, s, sid)
	if st["status"] != "verified" {
		t.Fatalf("session: %v", st)
	}
	got := st["credentials"].(map[string]any)["pid"].([]any)[0].(map[string]any)
	if got["format"] != "ldp_vc" || got["holder_binding"] != true || got["claims"].(map[string]any)["given_name"] != "Ada" {
		t.Fatalf("verified: %v", got)
	}

	// On the wire: one VP object, by one of the copies' did:jwk, bound to
	// the request, holding the stored credential.
	posts := rec.all()
	var vpTok map[string][]json.RawMessage
	if err := json.Unmarshal([]byte(posts[len(posts)-1].Form.Get("vp_token")), &vpTok); err != nil || len(vpTok["pid"]) != 1 {
		t.Fatalf("vp_token: %v %s", err, posts[len(posts)-1].Raw)
	}
	var vp map[string]any
	if err := json.Unmarshal(vpTok["pid"][0], &vp); err != nil {
		t.Fatalf("the ldp_vc presentation is not a JSON object: %s", vpTok["pid"][0])
	}
	proof := vp["proof"].(map[string]any)
	holder, _ := vp["holder"].(string)
	if fmt.Sprint(vp["@context"]) != "[https://www.w3.org/ns/credentials/v2]" || fmt.Sprint(vp["type"]) != "[VerifiablePresentation]" ||
		!slices.Contains(holders, any(holder)) || proof["verificationMethod"] != holder+"#0" ||
		proof["proofPurpose"] != "authentication" || proof["cryptosuite"] != "ecdsa-rdfc-2019" ||
		proof["challenge"] != req["nonce"] || proof["domain"] != req["client_id"] {
		t.Fatalf("presentation: %v", vp)
	}
	vc := vp["verifiableCredential"].([]any)[0].(map[string]any)
	if vc["credentialSubject"].(map[string]any)["id"] != holder || vc["proof"] == nil {
		t.Fatalf("presented credential: %v", vc)
	}

	// History: the presentation, with its credential.
	code, hist := call(t, "GET", s.URL+"/wallet/presentations", tok, nil)
	expect(t, "presentations", code, hist, 200)
	pr := hist["presentations"].([]any)
	if len(pr) != 1 || pr[0].(map[string]any)["outcome"] != "accepted" ||
		pr[0].(map[string]any)["credentials"].([]any)[0].(map[string]any)["credential_id"] != id {
		t.Fatalf("presentations: %v", hist)
	}
	code, h := call(t, "GET", s.URL+"/wallet/history", tok, nil)
	expect(t, "history", code, h, 200)
	if e := h["history"].([]any)[0].(map[string]any); e["event"] != walletapi.EventPresentationSent || e["credential_id"] != id {
		t.Fatalf("history: %v", h)
	}

	// The same VP answers no other request (another challenge), and a VP
	// whose domain was changed does not verify.
	sid2, link2 := verifierSession(t, s, ldpQuery("Replay"))
	req2 := requestObject(t, link2)
	if code := postVPToken(t, req2, map[string][]json.RawMessage{"pid": vpTok["pid"]}); code != http.StatusBadRequest {
		t.Fatalf("a VP of another request: %d", code)
	}
	sid3, link3 := verifierSession(t, s, ldpQuery("Domain"))
	req3 := requestObject(t, link3)
	tampered := withMember(vp, "proof", withMember(proof, "challenge", req3["nonce"]))
	tampered["proof"] = withMember(tampered["proof"].(map[string]any), "domain", "decentralized_identifier:did:example:other")
	b, _ := json.Marshal(tampered)
	if code := postVPToken(t, req3, map[string][]json.RawMessage{"pid": {b}}); code != http.StatusBadRequest {
		t.Fatalf("a VP with another domain: %d", code)
	}
	for sid, why := range map[string]string{sid2: "wrong or missing challenge", sid3: "wrong or missing domain"} {
		st := sessionStatus(t, s, sid)
		if e, _ := st["error"].(map[string]any); st["status"] != "failed" || !strings.Contains(fmt.Sprint(e["error_description"]), why) {
			t.Fatalf("session %s: %v", why, st)
		}
	}

	// The issuer suspends, reinstates, then revokes the copies: the wallet
	// follows their Bitstring Status List entries.
	change := func(action, want string) {
		t.Helper()
		mine := map[string]bool{}
		for _, e := range entries {
			e := e.(map[string]any)
			mine[fmt.Sprintf("%s#%s#%s", e["uri"], e["idx"], e["purpose"])] = true
		}
		n := setIssuerStatus(t, s, mine, action)
		if n != 3 {
			t.Fatalf("%d issuer records of the ldp_vc copies, want 3", n)
		}
		code, l := call(t, "GET", s.URL+"/wallet/credentials", tok, nil)
		expect(t, "list", code, l, 200)
		if c := l["credentials"].([]any)[0].(map[string]any); c["status"] != want || c["status_checked_at"] == nil {
			t.Fatalf("after %s: %v", action, c)
		}
	}
	change("suspend", "suspended")
	change("reinstate", "valid")
	change("revoke", "revoked")
}

// An ldp_vc whose contexts the wallet does not know is refused before the
// offer is redeemed, with a problem naming the context; a wallet that
// knows it can still redeem the same offer.
func TestLDPVCUnknownContextRefused(t *testing.T) {
	s, _ := startLDPWallet(t)
	tok := signUp(t, s, "no-context")
	link, _, _ := offer(t, s, ldpCfg, false)
	health := jsonld.HealthContext(issuerApp.URL).URL

	code, p := call(t, "POST", s.URL+"/wallet/offers", tok, map[string]any{"offer": link})
	expect(t, "preview", code, p, 200)
	if c0 := p["credentials"].([]any)[0].(map[string]any); c0["supported"] != false {
		t.Fatalf("preview: %v", c0)
	}
	code, out := call(t, "POST", s.URL+"/wallet/offers", tok, map[string]any{"offer": link, "accept": true})
	expect(t, "accept", code, out, 422)
	if !strings.HasSuffix(out["type"].(string), "#unsupported-credential") || !strings.Contains(out["detail"].(string), `"`+health+`"`) {
		t.Fatalf("problem: %v", out)
	}
	code, l := call(t, "GET", s.URL+"/wallet/credentials", tok, nil)
	expect(t, "list", code, l, 200)
	if len(l["credentials"].([]any)) != 0 {
		t.Fatalf("stored: %v", l)
	}

	s2, _ := startLDPWallet(t, jsonld.HealthContext(issuerApp.URL))
	tok2 := signUp(t, s2, "with-context")
	code, acc := call(t, "POST", s2.URL+"/wallet/offers", tok2, map[string]any{"offer": link, "accept": true})
	expect(t, "accept where the context is known", code, acc, 201)
}
