package e2e

import (
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

	"github.com/medid/medid/credentials/sdjwt"
	"github.com/medid/medid/internal/keys"
)

var (
	reSameDevice = regexp.MustCompile(`id="same-device" href="([^"]+)"`)
	reStatusURL  = regexp.MustCompile(`data-status="([^"]+)"`)
	reComplete   = regexp.MustCompile(`data-complete="([^"]+)"`)
)

// TestWalletLoginWithGoOIDC: a platform registered with the server's
// OpenID provider signs a patient in with go-oidc and x/oauth2 only; the
// patient's wallet answers the OpenID4VP request behind the login page
// with a credential the same server issued. The ID token carries a
// pairwise subject and only disclosed, registered claims.
func TestWalletLoginWithGoOIDC(t *testing.T) {
	srv := startServer(t, tempData(t), nil)
	ctx := context.Background()
	holder, _ := keys.Generate(keys.ES256)
	cred := issuePatientIdentity(t, srv.URL, srv.Admin, holder)

	code, client := postJSON(t, srv.URL+"/oidc/clients", srv.Admin, map[string]any{"client_name": "Telehealth",
		"redirect_uris": []string{"https://telehealth.example/callback"}, "allowed_claims": []string{"given_name", "birthdate"}})
	if code != http.StatusCreated {
		t.Fatalf("register client: %d %v", code, client)
	}
	provider, err := gooidc.NewProvider(ctx, srv.URL+"/oidc")
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	conf := oauth2.Config{ClientID: client["client_id"].(string), ClientSecret: client["client_secret"].(string),
		Endpoint: provider.Endpoint(), RedirectURL: "https://telehealth.example/callback", Scopes: []string{gooidc.ScopeOpenID, "profile"}}
	state, nonce, verifier := "st-"+time.Now().Format("150405.000"), "n-"+time.Now().Format("150405.000"), oauth2.GenerateVerifier()

	// The browser opens the login page.
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
	resp, page := get(conf.AuthCodeURL(state, gooidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)))
	find := func(re *regexp.Regexp) string {
		m := re.FindStringSubmatch(page)
		if resp.StatusCode != 200 || m == nil {
			t.Fatalf("login page (%d) lacks %v:\n%s", resp.StatusCode, re, page)
		}
		return html.UnescapeString(m[1])
	}
	link, statusURL, completeURL := find(reSameDevice), find(reStatusURL), find(reComplete)

	// The wallet answers, disclosing given_name and birthdate only.
	clientID, req := walletRequest(t, srv, link)
	q := req["dcql_query"].(map[string]any)["credentials"].([]any)[0].(map[string]any)
	vp, err := sdjwt.Present(cred, sdjwt.DisclosePaths([]any{"given_name"}, []any{"birthdate"}), &sdjwt.KeyBindingOptions{
		Key: holder, Nonce: req["nonce"].(string), Audience: clientID, IssuedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	token, _ := json.Marshal(map[string][]string{q["id"].(string): {vp}})
	wr, err := http.PostForm(req["response_uri"].(string), url.Values{"vp_token": {string(token)}, "state": {req["state"].(string)}})
	if err != nil {
		t.Fatal(err)
	}
	wb, _ := io.ReadAll(wr.Body)
	wr.Body.Close()
	if wr.StatusCode != 200 {
		t.Fatalf("wallet response: %d %s", wr.StatusCode, wb)
	}
	if r, body := get(statusURL); r.StatusCode != 200 || !strings.Contains(body, `"verified"`) {
		t.Fatalf("login status: %d %s", r.StatusCode, body)
	}
	r, _ := get(completeURL)
	loc, _ := url.Parse(r.Header.Get("Location"))
	if r.StatusCode != http.StatusSeeOther || loc == nil || loc.Query().Get("state") != state || loc.Query().Get("code") == "" {
		t.Fatalf("complete: %d %v", r.StatusCode, r.Header.Get("Location"))
	}

	// The platform's back end, with go-oidc and x/oauth2 only.
	tok, err := conf.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("code exchange: %v", err)
	}
	idt, err := provider.Verifier(&gooidc.Config{ClientID: conf.ClientID}).Verify(ctx, tok.Extra("id_token").(string))
	if err != nil || idt.Nonce != nonce {
		t.Fatalf("ID token: %v", err)
	}
	var got map[string]any
	idt.Claims(&got)
	if got["given_name"] != "Ada" || got["birthdate"] != "1990-12-10" {
		t.Fatalf("disclosed, registered claims missing: %v", got)
	}
	for _, absent := range []string{"family_name", "gender", "identifiers", "cnf"} {
		if _, ok := got[absent]; ok {
			t.Errorf("claim %s must not be in the ID token: %v", absent, got)
		}
	}
	if strings.HasPrefix(idt.Subject, "did:") || idt.Subject == "" {
		t.Fatalf("subject %q is not a pairwise pseudonym", idt.Subject)
	}
	// The code is single-use.
	if _, err := conf.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier)); err == nil {
		t.Fatal("a replayed code was exchanged")
	}

	// The login is on the access log, for the client and the same patient
	// as the presentation behind it, with the released claims' names only.
	entries, raw := auditEntries(t, srv, "")
	var login, presentation *auditEntry
	for i, e := range entries {
		switch e.Kind {
		case "login":
			login = &entries[i]
		case "verification":
			presentation = &entries[i]
		}
	}
	if login == nil || presentation == nil {
		t.Fatalf("access log lacks the login or its presentation: %s", raw)
	}
	if login.Client != conf.ClientID || login.Outcome != "verified" || login.Patient == "" || login.Patient != presentation.Patient ||
		login.Commitment == "" || !slices.Equal(login.ClaimNames, []string{"birthdate", "given_name"}) || !slices.Contains(login.Scopes, "openid") {
		t.Fatalf("login entry %+v (presentation %+v)", *login, *presentation)
	}
	if strings.Contains(string(raw), "Ada") || strings.Contains(string(raw), "1990-12-10") {
		t.Fatalf("the access log holds claim values: %s", raw)
	}
}

// auditEntry is an access log entry as GET /verifier/audit lists it.
type auditEntry struct {
	Kind            string   `json:"kind"`
	Client          string   `json:"client"`
	Patient         string   `json:"patient"`
	CredentialTypes []string `json:"credential_types"`
	ClaimNames      []string `json:"claim_names"`
	Scopes          []string `json:"scopes"`
	Outcome         string   `json:"outcome"`
	Reasons         []string `json:"reasons"`
	Commitment      string   `json:"commitment"`
}

// auditEntries reads the first page of the access log, newest first, with
// query (such as "outcome=failed"), and returns it with the raw body.
func auditEntries(t *testing.T, srv *server, query string) ([]auditEntry, []byte) {
	t.Helper()
	r, _ := http.NewRequest(http.MethodGet, srv.URL+"/verifier/audit?"+query, nil)
	r.Header.Set("Authorization", "Bearer "+srv.Admin)
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var page struct {
		Entries []auditEntry `json:"entries"`
	}
	if err := json.Unmarshal(raw, &page); err != nil || resp.StatusCode != 200 {
		t.Fatalf("access log: %d %s", resp.StatusCode, raw)
	}
	return page.Entries, raw
}

// TestVCAPIVerificationsOnAccessLog: POST /presentations/verify and
// /credentials/verify put each verification, passed or failed, on the
// access log, for the presenting patient, with names and never values.
func TestVCAPIVerificationsOnAccessLog(t *testing.T) {
	srv := startServer(t, tempData(t), nil)
	holder, _ := keys.Generate(keys.ES256)
	cred := issuePatientIdentity(t, srv.URL, srv.Admin, holder)
	vp, err := sdjwt.Present(cred, sdjwt.DisclosePaths([]any{"given_name"}), &sdjwt.KeyBindingOptions{
		Key: holder, Nonce: "challenge-1", Audience: "https://clinic.example", IssuedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	verify := func(challenge string) int {
		t.Helper()
		code, out := postJSON(t, srv.URL+"/presentations/verify", srv.Admin, map[string]any{"verifiablePresentation": vp,
			"options": map[string]any{"challenge": challenge, "domain": "https://clinic.example"}})
		t.Logf("presentations/verify: %d %v", code, out["detail"])
		return code
	}
	if c := verify("challenge-1"); c != http.StatusOK {
		t.Fatalf("valid presentation: %d", c)
	}
	if c := verify("another-challenge"); c != http.StatusUnprocessableEntity {
		t.Fatalf("wrong challenge: %d", c)
	}
	if c, out := postJSON(t, srv.URL+"/credentials/verify", srv.Admin, map[string]any{"verifiableCredential": "not a credential"}); c != http.StatusBadRequest {
		t.Fatalf("malformed credential: %d %v", c, out)
	}

	ok, raw := auditEntries(t, srv, "outcome=verified")
	if len(ok) != 1 || ok[0].Kind != "verification" || ok[0].Patient == "" || ok[0].Commitment == "" ||
		!slices.Contains(ok[0].ClaimNames, "given_name") || slices.Contains(ok[0].ClaimNames, "family_name") ||
		len(ok[0].CredentialTypes) != 1 || !strings.HasSuffix(ok[0].CredentialTypes[0], "/PatientIdentityCredential") {
		t.Fatalf("verified entries: %s", raw)
	}
	if strings.Contains(string(raw), "Ada") {
		t.Fatalf("the access log holds claim values: %s", raw)
	}
	failed, raw := auditEntries(t, srv, "outcome=failed")
	var reasons []string
	for _, e := range failed {
		if e.Kind != "verification" {
			t.Fatalf("failed entries: %s", raw)
		}
		reasons = append(reasons, strings.Join(e.Reasons, ","))
	}
	slices.Sort(reasons)
	if !slices.Equal(reasons, []string{"holder_binding", "malformed"}) {
		t.Fatalf("failed entries' reasons %v: %s", reasons, raw)
	}
}
