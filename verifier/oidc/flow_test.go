package oidc_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/medid/medid/did/didjwk"
	"github.com/medid/medid/internal/keys"
	"github.com/medid/medid/verifier/oidc"
)

// rp is a relying party built only from go-oidc and x/oauth2.
type rp struct {
	f        *fixture
	client   *oidc.RegisteredClient
	conf     oauth2.Config
	verifier *gooidc.IDTokenVerifier
	provider *gooidc.Provider
}

func (f *fixture) relyingParty(rc *oidc.RegisteredClient, style oauth2.AuthStyle, scopes ...string) *rp {
	f.t.Helper()
	ctx := context.Background()
	provider, err := gooidc.NewProvider(ctx, f.base+"/oidc")
	if err != nil {
		f.t.Fatalf("go-oidc discovery: %v", err)
	}
	ep := provider.Endpoint()
	ep.AuthStyle = style
	if len(scopes) == 0 {
		scopes = []string{gooidc.ScopeOpenID, "profile"}
	}
	return &rp{f: f, client: rc, provider: provider,
		conf:     oauth2.Config{ClientID: rc.ID, ClientSecret: rc.ClientSecret, Endpoint: ep, RedirectURL: rc.RedirectURIs[0], Scopes: scopes},
		verifier: provider.Verifier(&gooidc.Config{ClientID: rc.ID, Now: f.clock.Now})}
}

func randString() string {
	b := make([]byte, 16)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// authorization is the front-channel half of a login.
type authorization struct {
	code, state, nonce, verifier string
	location                     *url.URL
}

// authorize runs the browser and wallet through the authorize page and
// returns what came back on the redirect URI.
func (r *rp) authorize(p *patient, disclose []string) *authorization {
	f := r.f
	f.t.Helper()
	a := &authorization{state: randString(), nonce: randString(), verifier: oauth2.GenerateVerifier()}
	authURL := r.conf.AuthCodeURL(a.state, gooidc.Nonce(a.nonce), oauth2.S256ChallengeOption(a.verifier))
	b := f.newBrowser()
	page := b.open(authURL)
	if code, st := b.status(page); code != 200 || st != "pending" {
		f.t.Fatalf("status before the wallet answered: %d %q", code, st)
	}
	if code, body := f.wallet(page.Link, p, disclose); code != 200 {
		f.t.Fatalf("wallet response: %d %s", code, body)
	}
	if code, st := b.status(page); code != 200 || st != "verified" {
		f.t.Fatalf("status after the wallet answered: %d %q", code, st)
	}
	resp, body := b.complete(page)
	if resp.StatusCode != http.StatusSeeOther {
		f.t.Fatalf("complete: %d %s", resp.StatusCode, body)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		f.t.Fatal(err)
	}
	a.location = loc
	q := loc.Query()
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != r.conf.RedirectURL {
		f.t.Fatalf("redirected to %q, want %q", got, r.conf.RedirectURL)
	}
	if q.Get("state") != a.state || q.Get("iss") != f.base+"/oidc" || q.Get("error") != "" {
		f.t.Fatalf("authorization response %v", q)
	}
	a.code = q.Get("code")
	return a
}

// login is a whole login: the authorization, the code exchange and the ID
// token verification, all by go-oidc and x/oauth2.
func (r *rp) login(p *patient, disclose []string) (*oauth2.Token, *gooidc.IDToken, map[string]any) {
	f := r.f
	f.t.Helper()
	a := r.authorize(p, disclose)
	ctx := context.Background()
	tok, err := r.conf.Exchange(ctx, a.code, oauth2.VerifierOption(a.verifier))
	if err != nil {
		f.t.Fatalf("code exchange: %v", err)
	}
	raw, ok := tok.Extra("id_token").(string)
	if !ok {
		f.t.Fatal("no id_token in the token response")
	}
	idt, err := r.verifier.Verify(ctx, raw)
	if err != nil {
		f.t.Fatalf("go-oidc rejected the ID token: %v", err)
	}
	if idt.Nonce != a.nonce {
		f.t.Fatalf("nonce %q, want %q", idt.Nonce, a.nonce)
	}
	if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
		f.t.Fatalf("at_hash: %v", err)
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		f.t.Fatal(err)
	}
	return tok, idt, claims
}

// personal are the claims of a PatientIdentityCredential that an ID token
// might carry.
var personal = []string{"given_name", "family_name", "birthdate", "gender", "identifiers", "assurance_level", "cnf", "vct"}

func checkPersonal(t *testing.T, claims map[string]any, want map[string]string) {
	t.Helper()
	for _, name := range personal {
		got, present := claims[name]
		w, wanted := want[name]
		switch {
		case wanted && got != w:
			t.Errorf("claim %s = %v, want %q", name, got, w)
		case !wanted && present:
			t.Errorf("claim %s = %v must be absent", name, got)
		}
	}
}

func TestLoginWithGoOIDC(t *testing.T) {
	f := newFixture(t)
	rc := f.register(map[string]any{"client_name": "Telehealth A", "redirect_uris": []string{"https://app-a.example/callback"},
		"allowed_claims": []string{"given_name", "family_name", "birthdate"}})
	if rc.ClientSecret == "" || rc.TokenEndpointAuthMethod != "client_secret_basic" {
		t.Fatalf("registered %+v", rc)
	}
	r := f.relyingParty(rc, oauth2.AuthStyleInHeader)
	ada := f.newPatient(nil)
	tok, idt, claims := r.login(ada, nil)

	if tok.TokenType != "Bearer" || tok.AccessToken == "" {
		t.Fatalf("token %+v", tok)
	}
	if idt.Issuer != f.base+"/oidc" || len(idt.Audience) != 1 || idt.Audience[0] != rc.ID {
		t.Fatalf("iss %q aud %v", idt.Issuer, idt.Audience)
	}
	// The credential holds gender too, but the wallet was not asked for it.
	checkPersonal(t, claims, map[string]string{"given_name": "Ada", "family_name": "Lovelace", "birthdate": "1815-12-10"})
	for _, c := range []string{"iat", "exp", "auth_time", "nonce", "sub"} {
		if _, ok := claims[c]; !ok {
			t.Errorf("ID token lacks %s", c)
		}
	}

	// The sub is the pairwise identifier of the patient's did:jwk (the
	// credential's cnf.jwk) in the client's sector.
	jwkJSON, err := keys.PublicJWKJSONOf(ada.key.Public())
	if err != nil {
		t.Fatal(err)
	}
	holder, err := didjwk.New(jwkJSON)
	if err != nil {
		t.Fatal(err)
	}
	if want := oidc.PairwiseSubject(f.pairwiseSecret(), "app-a.example", holder.String()); idt.Subject != want {
		t.Fatalf("sub %q, want the pairwise %q", idt.Subject, want)
	}
	if strings.Contains(idt.Subject, "did:") {
		t.Fatalf("sub %q leaks the DID", idt.Subject)
	}

	// userinfo through go-oidc: the same subject and claims.
	ui, err := r.provider.UserInfo(context.Background(), oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	var uic map[string]any
	if err := ui.Claims(&uic); err != nil {
		t.Fatal(err)
	}
	if ui.Subject != idt.Subject {
		t.Fatalf("userinfo sub %q, ID token sub %q", ui.Subject, idt.Subject)
	}
	checkPersonal(t, uic, map[string]string{"given_name": "Ada", "family_name": "Lovelace", "birthdate": "1815-12-10"})
}

func TestLoginPageSecurity(t *testing.T) {
	f := newFixture(t)
	rc := f.register(map[string]any{"client_name": "Telehealth <A>", "redirect_uris": []string{"https://app-a.example/cb"}, "allowed_claims": []string{"given_name"}})
	r := f.relyingParty(rc, oauth2.AuthStyleInHeader)
	b := f.newBrowser()
	authURL := r.conf.AuthCodeURL("st", gooidc.Nonce("n"), oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))
	resp, body := b.get(authURL)
	if resp.StatusCode != 200 {
		t.Fatalf("authorize: %d %s", resp.StatusCode, body)
	}
	h := resp.Header
	csp := h.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "frame-ancestors 'none'", "script-src 'nonce-", "connect-src 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP allows inline code: %q", csp)
	}
	if h.Get("X-Frame-Options") != "DENY" || h.Get("Cache-Control") != "no-store" || h.Get("Referrer-Policy") != "no-referrer" {
		t.Errorf("headers %v", h)
	}
	if strings.Contains(string(body), "<A>") || !strings.Contains(string(body), "Telehealth &lt;A&gt;") {
		t.Errorf("the client name is not escaped")
	}
	var ck *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == oidc.CookieName {
			ck = c
		}
	}
	if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || !strings.HasPrefix(ck.Path, "/oidc/authorize/") {
		t.Fatalf("binding cookie %+v", ck)
	}
	page := b.open(authURL)
	if !strings.HasPrefix(page.Link, "openid4vp://?") {
		t.Fatalf("same-device link %q", page.Link)
	}
	qr, png := b.get(page.QRCode)
	if qr.StatusCode != 200 || qr.Header.Get("Content-Type") != "image/png" || len(png) < 100 {
		t.Fatalf("QR code: %d %s", qr.StatusCode, qr.Header.Get("Content-Type"))
	}
}

// pairwiseSecret is the fixture's PairwiseSecret.
func (f *fixture) pairwiseSecret() []byte {
	b := make([]byte, 32)
	for i := range b {
		b[i] = 9
	}
	return b
}

func TestPairwiseSubject(t *testing.T) {
	f := newFixture(t)
	a := f.relyingParty(f.register(map[string]any{"client_name": "A", "redirect_uris": []string{"https://app-a.example/cb"},
		"allowed_claims": []string{"given_name", "family_name", "birthdate"}}), oauth2.AuthStyleInHeader)
	b := f.relyingParty(f.register(map[string]any{"client_name": "B", "redirect_uris": []string{"https://app-b.example/cb"},
		"allowed_claims": []string{"given_name"}, "token_endpoint_auth_method": "client_secret_post"}), oauth2.AuthStyleInParams)
	ada, grace := f.newPatient(nil), f.newPatient(map[string]any{"given_name": "Grace", "family_name": "Hopper", "birthdate": "1906-12-09"})

	_, a1, _ := a.login(ada, nil)
	_, a2, _ := a.login(ada, nil)
	_, b1, bClaims := b.login(ada, nil)
	_, ag, _ := a.login(grace, nil)
	if a1.Subject != a2.Subject {
		t.Fatalf("sub not stable for one client: %q, %q", a1.Subject, a2.Subject)
	}
	if a1.Subject == b1.Subject {
		t.Fatalf("two clients see the same sub %q", a1.Subject)
	}
	if a1.Subject == ag.Subject {
		t.Fatalf("two patients share sub %q", a1.Subject)
	}
	// B registered only given_name: family_name and birthdate were
	// disclosed but are withheld.
	checkPersonal(t, bClaims, map[string]string{"given_name": "Ada"})
}

func TestUndisclosedClaimsAbsent(t *testing.T) {
	f := newFixture(t)
	r := f.relyingParty(f.register(map[string]any{"client_name": "A", "redirect_uris": []string{"https://app-a.example/cb"},
		"allowed_claims": []string{"given_name", "family_name", "birthdate"}}), oauth2.AuthStyleInHeader)
	// The patient discloses the given name and birthdate only (the
	// query's second claim set): family_name is registered but absent.
	tok, _, claims := r.login(f.newPatient(nil), []string{"given_name", "birthdate"})
	checkPersonal(t, claims, map[string]string{"given_name": "Ada", "birthdate": "1815-12-10"})
	ui, err := r.provider.UserInfo(context.Background(), oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatal(err)
	}
	var uic map[string]any
	_ = ui.Claims(&uic)
	checkPersonal(t, uic, map[string]string{"given_name": "Ada", "birthdate": "1815-12-10"})
}

func TestScopeOpenIDOnlyReleasesNoProfile(t *testing.T) {
	f := newFixture(t)
	r := f.relyingParty(f.register(map[string]any{"client_name": "A", "redirect_uris": []string{"https://app-a.example/cb"},
		"allowed_claims": []string{"given_name", "family_name", "birthdate"}}), oauth2.AuthStyleInHeader, gooidc.ScopeOpenID)
	_, idt, claims := r.login(f.newPatient(nil), nil)
	checkPersonal(t, claims, nil)
	if idt.Subject == "" {
		t.Fatal("no sub")
	}
}

func TestPublicClientWithPKCE(t *testing.T) {
	f := newFixture(t)
	rc := f.register(map[string]any{"client_name": "SPA", "redirect_uris": []string{"http://127.0.0.1:5173/cb"},
		"allowed_claims": []string{"given_name"}, "token_endpoint_auth_method": "none"})
	if rc.ClientSecret != "" {
		t.Fatalf("a public client got a secret")
	}
	r := f.relyingParty(rc, oauth2.AuthStyleInParams)
	_, _, claims := r.login(f.newPatient(nil), nil)
	checkPersonal(t, claims, map[string]string{"given_name": "Ada"})

	// A public client's code still needs the right verifier.
	a := r.authorize(f.newPatient(nil), nil)
	_, err := r.conf.Exchange(context.Background(), a.code, oauth2.VerifierOption(oauth2.GenerateVerifier()))
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Fatalf("wrong verifier for a public client: %v", err)
	}
}

func TestWrongVerifierThroughOAuth2(t *testing.T) {
	f := newFixture(t)
	r := f.relyingParty(f.register(map[string]any{"client_name": "A", "redirect_uris": []string{"https://app-a.example/cb"},
		"allowed_claims": []string{"given_name"}}), oauth2.AuthStyleInHeader)
	a := r.authorize(f.newPatient(nil), nil)
	_, err := r.conf.Exchange(context.Background(), a.code, oauth2.VerifierOption(oauth2.GenerateVerifier()))
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" || re.Response.StatusCode != 400 {
		t.Fatalf("wrong PKCE verifier: %v", err)
	}
	// The code is spent: the right verifier does not bring it back.
	_, err = r.conf.Exchange(context.Background(), a.code, oauth2.VerifierOption(a.verifier))
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Fatalf("code after a failed redemption: %v", err)
	}
}

// tokenRequest posts a raw token request.
func (f *fixture) tokenRequest(form url.Values, basicID, basicSecret string) (int, map[string]any, http.Header) {
	f.t.Helper()
	auth := ""
	if basicID != "" {
		auth = "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(basicID)+":"+url.QueryEscape(basicSecret)))
	}
	code, body, h := f.do("POST", "/oidc/token", "application/x-www-form-urlencoded", auth, []byte(form.Encode()))
	var out map[string]any
	if err := json.Unmarshal(body, &out); err != nil {
		f.t.Fatalf("token endpoint answered %d with non-JSON %q", code, body)
	}
	return code, out, h
}

func TestTokenErrors(t *testing.T) {
	f := newFixture(t)
	a := f.relyingParty(f.register(map[string]any{"client_name": "A", "redirect_uris": []string{"https://app-a.example/cb", "https://app-a.example/other"},
		"allowed_claims": []string{"given_name"}}), oauth2.AuthStyleInHeader)
	b := f.relyingParty(f.register(map[string]any{"client_name": "B", "redirect_uris": []string{"https://app-b.example/cb"},
		"allowed_claims": []string{"given_name"}}), oauth2.AuthStyleInHeader)
	ada := f.newPatient(nil)
	form := func(z *authorization, redirect string) url.Values {
		return url.Values{"grant_type": {"authorization_code"}, "code": {z.code}, "redirect_uri": {redirect}, "code_verifier": {z.verifier}}
	}
	aID, aSecret := a.client.ID, a.client.ClientSecret

	type tc struct {
		name       string
		form       func(z *authorization) url.Values
		id, secret string
		status     int
		errCode    string
	}
	cases := []tc{
		{"wrong PKCE verifier", func(z *authorization) url.Values {
			v := form(z, "https://app-a.example/cb")
			v.Set("code_verifier", oauth2.GenerateVerifier())
			return v
		}, aID, aSecret, 400, "invalid_grant"},
		{"wrong redirect_uri (another registered one)", func(z *authorization) url.Values { return form(z, "https://app-a.example/other") }, aID, aSecret, 400, "invalid_grant"},
		{"unknown client", func(z *authorization) url.Values { return form(z, "https://app-a.example/cb") }, "no-such-client", "x", 401, "invalid_client"},
		{"wrong secret", func(z *authorization) url.Values { return form(z, "https://app-a.example/cb") }, aID, "not-the-secret", 401, "invalid_client"},
		{"secret in the body for a basic client", func(z *authorization) url.Values {
			v := form(z, "https://app-a.example/cb")
			v.Set("client_id", aID)
			v.Set("client_secret", aSecret)
			return v
		}, "", "", 401, "invalid_client"},
		{"another client's code", func(z *authorization) url.Values { return form(z, "https://app-a.example/cb") },
			b.client.ID, b.client.ClientSecret, 400, "invalid_grant"},
		{"missing code_verifier", func(z *authorization) url.Values {
			v := form(z, "https://app-a.example/cb")
			v.Del("code_verifier")
			return v
		}, aID, aSecret, 400, "invalid_request"},
		{"unsupported grant type", func(z *authorization) url.Values {
			v := form(z, "https://app-a.example/cb")
			v.Set("grant_type", "password")
			return v
		}, aID, aSecret, 400, "unsupported_grant_type"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			z := a.authorize(ada, nil)
			code, out, h := f.tokenRequest(c.form(z), c.id, c.secret)
			if code != c.status || out["error"] != c.errCode {
				t.Fatalf("%d %v, want %d %s", code, out, c.status, c.errCode)
			}
			if c.status == 401 && !strings.HasPrefix(h.Get("WWW-Authenticate"), "Basic") {
				t.Errorf("WWW-Authenticate %q", h.Get("WWW-Authenticate"))
			}
			if h.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control %q", h.Get("Cache-Control"))
			}
			if _, ok := out["access_token"]; ok {
				t.Fatal("an error response carries a token")
			}
		})
	}

	t.Run("replayed code revokes the first access token", func(t *testing.T) {
		z := a.authorize(ada, nil)
		code, out, _ := f.tokenRequest(form(z, "https://app-a.example/cb"), aID, aSecret)
		if code != 200 || out["id_token"] == nil || out["token_type"] != "Bearer" {
			t.Fatalf("first redemption: %d %v", code, out)
		}
		at := out["access_token"].(string)
		if code, body, _ := f.do("GET", "/oidc/userinfo", "", "Bearer "+at, nil); code != 200 {
			t.Fatalf("userinfo: %d %s", code, body)
		}
		code, out, _ = f.tokenRequest(form(z, "https://app-a.example/cb"), aID, aSecret)
		if code != 400 || out["error"] != "invalid_grant" {
			t.Fatalf("replay: %d %v", code, out)
		}
		code, body, h := f.do("GET", "/oidc/userinfo", "", "Bearer "+at, nil)
		if code != 401 || !strings.Contains(h.Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Fatalf("userinfo after replay: %d %s", code, body)
		}
	})

	t.Run("expired code", func(t *testing.T) {
		z := a.authorize(ada, nil)
		f.clock.Advance(2 * 60e9)
		code, out, _ := f.tokenRequest(form(z, "https://app-a.example/cb"), aID, aSecret)
		if code != 400 || out["error"] != "invalid_grant" {
			t.Fatalf("%d %v", code, out)
		}
	})

	t.Run("JSON body", func(t *testing.T) {
		code, body, _ := f.do("POST", "/oidc/token", "application/json", "", []byte(`{"grant_type":"authorization_code"}`))
		if code != 400 || !strings.Contains(string(body), `"invalid_request"`) {
			t.Fatalf("%d %s", code, body)
		}
	})
}

func TestUserInfoErrors(t *testing.T) {
	f := newFixture(t)
	r := f.relyingParty(f.register(map[string]any{"client_name": "A", "redirect_uris": []string{"https://app-a.example/cb"},
		"allowed_claims": []string{"given_name"}}), oauth2.AuthStyleInHeader)
	tok, _, _ := r.login(f.newPatient(nil), nil)
	for name, auth := range map[string]string{"none": "", "basic": "Basic Zm9vOmJhcg==", "unknown token": "Bearer nope"} {
		code, body, h := f.do("GET", "/oidc/userinfo", "", auth, nil)
		if code != 401 || !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer") || !strings.Contains(string(body), "invalid_token") {
			t.Errorf("%s: %d %s %v", name, code, body, h)
		}
	}
	f.clock.Advance(11 * 60e9)
	if code, body, _ := f.do("GET", "/oidc/userinfo", "", "Bearer "+tok.AccessToken, nil); code != 401 {
		t.Fatalf("expired access token: %d %s", code, body)
	}
}
