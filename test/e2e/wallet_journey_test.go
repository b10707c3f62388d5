package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/medid/medid/did/didkey"
	"github.com/medid/medid/internal/app"
	"github.com/medid/medid/internal/config"
	"github.com/medid/medid/internal/keys"
	"github.com/medid/medid/internal/ledger"
	"github.com/medid/medid/verifier/audit"
)

// journeyStatusTTL is the ttl of the server's status lists in the journey:
// how long its verifier may keep a list it fetched before a revocation.
const journeyStatusTTL = time.Second

// TestPatientJourneyThroughTheWalletAPI drives one patient through one
// real server, the wallet API acting as the patient's wallet and nothing
// else presenting for her: she opens an account, receives a
// PatientIdentityCredential from the issuer, signs in to a telehealth
// platform through the OpenID provider (the platform uses go-oidc and
// x/oauth2 only), grants a clinic (a did:key party of its own) a consent,
// passes the clinic's consent check (an OpenID4VP session, then an access
// decision), revokes the consent and is denied on the next check, within
// the status list's cache lifetime. Her access log shows the sign-in,
// the permit and the deny, each checked by the wallet against the ledger
// and checked again here with nothing but the ledger's public key; her
// history shows the receipt and the presentations.
func TestPatientJourneyThroughTheWalletAPI(t *testing.T) {
	srv := startServerWith(t, tempData(t), app.Options{StatusTTL: journeyStatusTTL})
	ctx := context.Background()

	// An account, and a session.
	code, acct := walletCall(t, "POST", srv.URL+"/wallet/accounts", "", map[string]any{"username": "ada", "password": "correct horse battery staple"})
	wantStatus(t, "create account", code, acct, http.StatusCreated)
	code, sess := walletCall(t, "POST", srv.URL+"/wallet/sessions", "", map[string]any{"username": "ada", "password": "correct horse battery staple"})
	wantStatus(t, "sign in", code, sess, http.StatusCreated)
	tok, _ := sess["token"].(string)
	if tok == "" {
		t.Fatalf("session without a token: %v", sess)
	}

	// Receiving: the hospital's admin makes an offer; the wallet accepts
	// the link.
	var claims map[string]any
	json.Unmarshal([]byte(patientClaims), &claims)
	code, o := postJSON(t, srv.URL+"/issuer/offers", srv.Admin, map[string]any{
		"credential_configuration_ids": []string{"PatientIdentityCredential_dc+sd-jwt"}, "claims": claims})
	wantStatus(t, "offer", code, o, http.StatusCreated)
	code, acc := walletCall(t, "POST", srv.URL+"/wallet/offers", tok, map[string]any{"offer": o["offer_uri"], "accept": true})
	wantStatus(t, "accept the offer", code, acc, http.StatusCreated)
	idCred := str(t, acc, "credentials", 0, "id")
	code, creds := walletCall(t, "GET", srv.URL+"/wallet/credentials", tok, nil)
	wantStatus(t, "list credentials", code, creds, http.StatusOK)
	if cs := creds["credentials"].([]any); len(cs) != 1 || str(t, cs[0], "id") != idCred || str(t, cs[0], "status") != "valid" {
		t.Fatalf("credentials: %v", creds)
	}

	// Signing in to a registered platform. The platform may receive the
	// three names; the patient chooses to disclose two.
	code, client := postJSON(t, srv.URL+"/oidc/clients", srv.Admin, map[string]any{"client_name": "Telehealth",
		"redirect_uris": []string{"https://telehealth.example/callback"}, "allowed_claims": []string{"given_name", "family_name", "birthdate"}})
	wantStatus(t, "register client", code, client, http.StatusCreated)
	provider, err := gooidc.NewProvider(ctx, srv.URL+"/oidc")
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	conf := oauth2.Config{ClientID: client["client_id"].(string), ClientSecret: client["client_secret"].(string),
		Endpoint: provider.Endpoint(), RedirectURL: "https://telehealth.example/callback", Scopes: []string{gooidc.ScopeOpenID, "profile"}}
	state, nonce, pkce := "st-"+randomSuffix(), "n-"+randomSuffix(), oauth2.GenerateVerifier()
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(u string) (*http.Response, string) {
		t.Helper()
		resp, err := browser.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(b)
	}
	resp, page := get(conf.AuthCodeURL(state, gooidc.Nonce(nonce), oauth2.S256ChallengeOption(pkce)))
	find := func(re *regexp.Regexp) string {
		t.Helper()
		m := re.FindStringSubmatch(page)
		if resp.StatusCode != 200 || m == nil {
			t.Fatalf("login page (%d) lacks %v:\n%s", resp.StatusCode, re, page)
		}
		return html.UnescapeString(m[1])
	}
	link, statusURL, completeURL := find(reSameDevice), find(reStatusURL), find(reComplete)

	// The wallet shows who asks and what, then answers with the chosen
	// claims only.
	code, prev := walletCall(t, "POST", srv.URL+"/wallet/presentations/preview", tok, map[string]any{"request": link})
	wantStatus(t, "login preview", code, prev, http.StatusOK)
	verifierID := "decentralized_identifier:" + srv.App.ServerDID
	if prev["client_id"] != verifierID || !strings.HasPrefix(str(t, prev, "signed_by"), srv.App.ServerDID+"#") || prev["satisfiable"] != true {
		t.Fatalf("login preview: %v", prev)
	}
	loginQuery := str(t, prev, "credentials", 0, "id")
	if m := str(t, prev, "credentials", 0, "matches", 0, "credential_id"); m != idCred {
		t.Fatalf("login preview offers credential %s, want %s", m, idCred)
	}
	code, sent := walletCall(t, "POST", srv.URL+"/wallet/presentations", tok, map[string]any{"request": link,
		"choices": map[string]any{loginQuery: map[string]any{"credential_id": idCred, "claims": [][]string{{"given_name"}, {"birthdate"}}}}})
	wantStatus(t, "login presentation", code, sent, http.StatusOK)
	if r, body := get(statusURL); r.StatusCode != 200 || !strings.Contains(body, `"verified"`) {
		t.Fatalf("login status: %d %s", r.StatusCode, body)
	}
	r, _ := get(completeURL)
	loc, _ := url.Parse(r.Header.Get("Location"))
	if r.StatusCode != http.StatusSeeOther || loc == nil || loc.Query().Get("state") != state || loc.Query().Get("code") == "" {
		t.Fatalf("complete: %d %v", r.StatusCode, r.Header.Get("Location"))
	}
	oauthTok, err := conf.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(pkce))
	if err != nil {
		t.Fatalf("code exchange: %v", err)
	}
	idt, err := provider.Verifier(&gooidc.Config{ClientID: conf.ClientID}).Verify(ctx, oauthTok.Extra("id_token").(string))
	if err != nil || idt.Nonce != nonce {
		t.Fatalf("ID token: %v", err)
	}
	var got map[string]any
	idt.Claims(&got)
	if got["given_name"] != "Ada" || got["birthdate"] != "1990-12-10" {
		t.Fatalf("chosen claims missing from the ID token: %v", got)
	}
	if _, ok := got["family_name"]; ok {
		t.Fatalf("family_name was not chosen, yet the platform got it: %v", got)
	}

	// Granting a consent to a clinic that is a did:key of its own.
	clinicKey, err := keys.Generate(keys.EdDSA)
	if err != nil {
		t.Fatal(err)
	}
	clinic, err := didkey.New(clinicKey.Public())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	code, consent := walletCall(t, "POST", srv.URL+"/wallet/consents", tok, map[string]any{
		"grantee":     map[string]any{"id": clinic.String(), "name": "General Clinic", "kind": "clinic"},
		"scopes":      []string{"patient/Observation.rs"},
		"purposes":    []string{"TREAT"},
		"valid_from":  now.Add(-time.Minute).Format(time.RFC3339),
		"valid_until": now.Add(30 * 24 * time.Hour).Format(time.RFC3339),
		"delegable":   false,
	})
	wantStatus(t, "grant consent", code, consent, http.StatusCreated)
	consentID, consentCred, patient := str(t, consent, "id"), str(t, consent, "credential_id"), str(t, consent, "patient")
	if consent["status"] != "valid" || consent["active"] != true || str(t, consent, "grantee", "id") != clinic.String() ||
		!strings.HasPrefix(patient, "did:jwk:") {
		t.Fatalf("consent: %v", consent)
	}

	// The clinic's back end checks the consent: an OpenID4VP session the
	// wallet answers, then an access decision on it. newestLeaf is the
	// ledger index of the newest decision.
	var newestLeaf uint64
	decide := func(step string) (int, map[string]any) {
		t.Helper()
		code, s := postJSON(t, srv.URL+"/verifier/sessions", srv.Admin, map[string]any{"template": "consent", "purpose": "Read your lab results"})
		wantStatus(t, step+": session", code, s, http.StatusCreated)
		link := str(t, s, "authorization_request")
		code, p := walletCall(t, "POST", srv.URL+"/wallet/presentations/preview", tok, map[string]any{"request": link})
		wantStatus(t, step+": preview", code, p, http.StatusOK)
		if p["purpose"] != "Read your lab results" || str(t, p, "credentials", 0, "matches", 0, "credential_id") != consentCred {
			t.Fatalf("%s: preview: %v", step, p)
		}
		code, res := walletCall(t, "POST", srv.URL+"/wallet/presentations", tok, map[string]any{"request": link})
		t.Logf("%s: wallet presentation: %d %v", step, code, res)
		if code == http.StatusOK && str(t, res, "presented", 0, "credential_id") != consentCred {
			t.Fatalf("%s: presented %v", step, res)
		}
		code, d := postJSON(t, srv.URL+"/verifier/access-decisions", srv.Admin, map[string]any{
			"session_id": s["id"],
			"request": map[string]any{"patient": patient, "grantee": clinic.String(), "resource_type": "Observation",
				"interaction": "read", "purpose": "TREAT"},
		})
		if code == http.StatusOK {
			newestLeaf = max(newestLeaf, uint64(num(t, d, "audit", "leaf_index")))
		} else {
			_, st := walletCall(t, "GET", srv.URL+"/verifier/sessions/"+str(t, s, "id"), srv.Admin, nil)
			t.Logf("%s: the session behind the decision: %v", step, st)
		}
		return code, d
	}
	code, permit := decide("consent check")
	if code != http.StatusOK || permit["decision"] != "permit" {
		t.Fatalf("consent check: %d %v", code, permit)
	}
	// The clinic checks on every visit: the same consent, a fresh session,
	// permits again while it is valid.
	if code, again := decide("second visit"); code != http.StatusOK || again["decision"] != "permit" {
		t.Errorf("second visit, the consent still valid: %d %v, want a permit", code, again)
	}

	// Revoking, then the next check after the lists' cache lifetime. The
	// verifier fetched the list at the permit, before the revocation, so
	// it may keep it one ttl from then; no longer.
	code, rev := walletCall(t, "DELETE", srv.URL+"/wallet/consents/"+consentID, tok, nil)
	revokedAt := time.Now()
	wantStatus(t, "revoke", code, rev, http.StatusOK)
	if rev["status"] != "revoked" || rev["active"] != false {
		t.Fatalf("revoked consent: %v", rev)
	}
	time.Sleep(time.Until(revokedAt.Add(journeyStatusTTL + 100*time.Millisecond)))
	// The decision must be a logged deny: a 4xx would leave the clinic
	// without access, but the patient could not see it on her log.
	code, deny := decide("after revoking")
	denied := code == http.StatusOK && deny["decision"] == "deny" && reasonIn(deny, "consent_revoked")
	if !denied {
		t.Errorf("after revoking: %d %v, want 200 with decision deny, reason consent_revoked", code, deny)
	}

	// Who looked: the wallet's access log, every entry checked against a
	// checkpoint. The newest decision is the newest entry; wait for a
	// checkpoint covering it.
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := srv.App.Ledger.AwaitCheckpoint(wctx, newestLeaf); err != nil {
		t.Fatalf("no checkpoint covers the last decision: %v", err)
	}
	code, view := walletCall(t, "GET", srv.URL+"/wallet/access-log", tok, nil)
	wantStatus(t, "access log", code, view, http.StatusOK)
	if view["all_verified"] != true || num(t, view, "unverified") != 0 || view["checkpoint"] == "" {
		t.Fatalf("access log not all verified: %v", view)
	}
	cp, err := ledger.VerifyCheckpoint([]byte(str(t, view, "checkpoint")), strings.TrimSpace(getText(t, srv.URL+"/ledger/key")))
	if err != nil {
		t.Fatalf("the access log's checkpoint does not verify with the ledger's key: %v", err)
	}
	var events []accessEvent
	raw, _ := json.Marshal(view["entries"])
	if err := json.Unmarshal(raw, &events); err != nil {
		t.Fatal(err)
	}
	var login, loginVP, permitted, deniedEntry *accessEvent
	for i := range events {
		e := &events[i]
		switch {
		case e.Kind == "login" && e.Client == conf.ClientID:
			login = e
		case e.Kind == "verification" && slices.ContainsFunc(e.CredentialTypes, func(s string) bool {
			return strings.HasSuffix(s, "PatientIdentityCredential")
		}):
			loginVP = e
		case e.Kind == "access-decision" && e.ID == str(t, permit, "audit", "id"):
			permitted = e
		case denied && e.Kind == "access-decision" && e.ID == str(t, deny, "audit", "id"):
			deniedEntry = e
		}
		// Every entry, not only these three, was checked by the wallet;
		// check its proof again with nothing but the ledger's key.
		if !e.Verified || e.Proof == nil || e.Proof.TreeSize != cp.Size {
			t.Fatalf("entry %s (%s) is not verified with a proof against the checkpoint: %+v", e.ID, e.Kind, e)
		}
		leaf, err := audit.LedgerEntry(e.Commitment, e.Time)
		if err != nil {
			t.Fatal(err)
		}
		if err := ledger.VerifyInclusion(leaf, e.Proof.LeafIndex, e.Proof.Hashes, cp); err != nil {
			t.Fatalf("entry %s (%s): inclusion proof: %v", e.ID, e.Kind, err)
		}
	}
	if login == nil || loginVP == nil || permitted == nil {
		t.Fatalf("the access log lacks the sign-in (%v), its presentation (%v) or the permit (%v): %s",
			login != nil, loginVP != nil, permitted != nil, raw)
	}
	// Both name the claims she chose, and only those.
	for _, e := range []*accessEvent{login, loginVP} {
		if e.Outcome != "verified" || e.Verifier != srv.App.ServerDID || !slices.Contains(e.ClaimNames, "given_name") ||
			!slices.Contains(e.ClaimNames, "birthdate") || slices.Contains(e.ClaimNames, "family_name") {
			t.Errorf("sign-in entry: %+v", e)
		}
	}
	if permitted.Outcome != "permit" || permitted.Proof.LeafIndex != uint64(num(t, permit, "audit", "leaf_index")) ||
		!permitted.Time.After(login.Time) {
		t.Errorf("permit entry: %+v", permitted)
	}
	decisions := []*accessEvent{permitted}
	switch {
	case !denied:
		t.Errorf("no deny to find on the access log")
	case deniedEntry == nil:
		t.Errorf("the access log lacks the deny: %s", raw)
	default:
		decisions = append(decisions, deniedEntry)
		if deniedEntry.Outcome != "deny" || !slices.Contains(deniedEntry.Reasons, "consent_revoked") ||
			deniedEntry.Proof.LeafIndex != uint64(num(t, deny, "audit", "leaf_index")) || !deniedEntry.Time.After(permitted.Time) ||
			slices.Index(ptrs(events), deniedEntry) > slices.Index(ptrs(events), permitted) {
			t.Errorf("deny entry (newest first): %+v", deniedEntry)
		}
	}
	for _, e := range decisions {
		if e.Client != clinic.String() || e.Verifier != srv.App.ServerDID || e.Purpose != "TREAT" || e.DID != patient ||
			!slices.Contains(e.Scopes, "patient/Observation.r") {
			t.Errorf("decision entry: %+v", e)
		}
	}

	// The wallet's own history: the receipt and the presentations.
	code, h := walletCall(t, "GET", srv.URL+"/wallet/history", tok, nil)
	wantStatus(t, "history", code, h, http.StatusOK)
	count := map[string]int{}
	for _, e := range h["history"].([]any) {
		count[str(t, e, "event")+" "+optStr(e, "credential_id")]++
	}
	if count["credential_received "+idCred] != 1 || count["presentation_sent "+idCred] != 1 ||
		count["credential_received "+consentCred] != 1 || count["presentation_sent "+consentCred] != 3 {
		t.Fatalf("history %v: %v", count, h)
	}
	code, ps := walletCall(t, "GET", srv.URL+"/wallet/presentations", tok, nil)
	wantStatus(t, "presentations", code, ps, http.StatusOK)
	list := ps["presentations"].([]any)
	if len(list) != 4 {
		t.Fatalf("presentations: %v", ps)
	}
	loginRec := list[3]
	if str(t, loginRec, "client_id") != verifierID || str(t, loginRec, "outcome") != "accepted" ||
		str(t, loginRec, "credentials", 0, "credential_id") != idCred {
		t.Fatalf("the sign-in's presentation record: %v", loginRec)
	}
	// The claims chosen, then assurance_level, which the credential's
	// issuer-signed payload shows to every verifier.
	if names, _ := json.Marshal(loginRec.(map[string]any)["credentials"].([]any)[0].(map[string]any)["claims"]); string(names) != `["given_name","birthdate","assurance_level"]` {
		t.Fatalf("the sign-in's presentation record names %s", names)
	}
	// The consent, newest first: refused by the verifier once revoked,
	// accepted twice before.
	for i, want := range []string{"refused", "accepted", "accepted"} {
		if str(t, list[i], "outcome") != want || str(t, list[i], "client_id") != verifierID ||
			str(t, list[i], "purpose") != "Read your lab results" || str(t, list[i], "credentials", 0, "credential_id") != consentCred {
			t.Errorf("consent presentation %d, want %s: %v", i, want, list[i])
		}
	}
}

// accessEvent is an entry of GET /wallet/access-log.
type accessEvent struct {
	ID              string    `json:"id"`
	DID             string    `json:"did"`
	Kind            string    `json:"kind"`
	Time            time.Time `json:"time"`
	Verifier        string    `json:"verifier"`
	Client          string    `json:"client"`
	CredentialTypes []string  `json:"credential_types"`
	ClaimNames      []string  `json:"claim_names"`
	Scopes          []string  `json:"scopes"`
	Purpose         string    `json:"purpose"`
	Outcome         string    `json:"outcome"`
	Reasons         []string  `json:"reasons"`
	Commitment      string    `json:"commitment"`
	Proof           *struct {
		LeafIndex uint64   `json:"leaf_index"`
		TreeSize  uint64   `json:"tree_size"`
		Hashes    [][]byte `json:"hashes"`
	} `json:"proof"`
	Verified bool   `json:"verified"`
	Problem  string `json:"problem"`
}

func ptrs(es []accessEvent) []*accessEvent {
	out := make([]*accessEvent, len(es))
	for i := range es {
		out[i] = &es[i]
	}
	return out
}

// startServerWith is startServer with app.Options of the test's choosing.
func startServerWith(t *testing.T, dataDir string, opts app.Options) *server {
	t.Helper()
	return startServerConfig(t, &config.Config{DataDir: dataDir, LogLevel: "warn"}, opts)
}

// walletCall sends a JSON request with a bearer token (if any) and decodes
// the JSON answer (numbers as json.Number).
func walletCall(t *testing.T, method, u, token string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	dec := json.NewDecoder(resp.Body)
	dec.UseNumber()
	_ = dec.Decode(&out)
	return resp.StatusCode, out
}

func wantStatus(t *testing.T, step string, got int, body map[string]any, want int) {
	t.Helper()
	if got != want {
		t.Fatalf("%s: %d, want %d: %v", step, got, want, body)
	}
}

// str walks v by member names and array indexes to a string, failing the
// test if the path does not lead to one.
func str(t *testing.T, v any, path ...any) string {
	t.Helper()
	s, ok := walk(v, path...).(string)
	if !ok {
		t.Fatalf("no string at %v in %v", path, v)
	}
	return s
}

func optStr(v any, path ...any) string { s, _ := walk(v, path...).(string); return s }

// num is str for a number.
func num(t *testing.T, v any, path ...any) int64 {
	t.Helper()
	var n int64
	var err error
	switch x := walk(v, path...).(type) {
	case json.Number:
		n, err = x.Int64()
	case float64:
		n = int64(x)
	default:
		t.Fatalf("no number at %v in %v", path, v)
	}
	if err != nil {
		t.Fatalf("number at %v: %v", path, err)
	}
	return n
}

func walk(v any, path ...any) any {
	for _, p := range path {
		switch p := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[p]
		case int:
			l, _ := v.([]any)
			if p >= len(l) {
				return nil
			}
			v = l[p]
		}
	}
	return v
}

func reasonIn(d map[string]any, code string) bool {
	rs, _ := d["reasons"].([]any)
	for _, r := range rs {
		if optStr(r, "code") == code {
			return true
		}
	}
	return false
}

func randomSuffix() string { return time.Now().Format("150405.000000") }
