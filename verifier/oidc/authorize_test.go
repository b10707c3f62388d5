package oidc_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// authorizeParams is a valid authentication request for client id.
func authorizeParams(id, redirect string) url.Values {
	return url.Values{"client_id": {id}, "redirect_uri": {redirect}, "response_type": {"code"},
		"scope": {"openid profile"}, "state": {"st-1"}, "nonce": {"n-1"},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())}, "code_challenge_method": {"S256"}}
}

func TestAuthorizeErrors(t *testing.T) {
	f := newFixture(t)
	rc := f.register(map[string]any{"client_name": "A", "redirect_uris": []string{"https://app-a.example/cb?tenant=7"}, "allowed_claims": []string{"given_name"}})
	redirect := rc.RedirectURIs[0]

	// Errors that must not be redirected: the client or its redirect URI
	// cannot be trusted. They get an HTML error page.
	pages := map[string]func(v url.Values){
		"unknown client":        func(v url.Values) { v.Set("client_id", "no-such-client") },
		"missing client_id":     func(v url.Values) { v.Del("client_id") },
		"unregistered redirect": func(v url.Values) { v.Set("redirect_uri", "https://evil.example/cb") },
		"redirect prefix match": func(v url.Values) { v.Set("redirect_uri", redirect+"&x=1") },
		"missing redirect_uri":  func(v url.Values) { v.Del("redirect_uri") },
		"two redirect_uris":     func(v url.Values) { v.Add("redirect_uri", redirect) },
	}
	for name, mutate := range pages {
		t.Run(name, func(t *testing.T) {
			v := authorizeParams(rc.ID, redirect)
			mutate(v)
			resp, body := f.newBrowser().get(f.base + "/oidc/authorize?" + v.Encode())
			if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
				t.Fatalf("%d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
			}
			if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(string(body), `data-error="invalid_request"`) {
				t.Fatalf("error page: %s", body)
			}
			if resp.Header.Get("X-Frame-Options") != "DENY" {
				t.Fatal("error page without security headers")
			}
		})
	}

	// Errors for a good client and redirect URI go back to it.
	redirects := map[string]struct {
		mutate func(v url.Values)
		code   string
	}{
		"no PKCE":               {func(v url.Values) { v.Del("code_challenge"); v.Del("code_challenge_method") }, "invalid_request"},
		"PKCE plain":            {func(v url.Values) { v.Set("code_challenge_method", "plain") }, "invalid_request"},
		"short challenge":       {func(v url.Values) { v.Set("code_challenge", "abc") }, "invalid_request"},
		"no openid scope":       {func(v url.Values) { v.Set("scope", "profile") }, "invalid_scope"},
		"implicit flow":         {func(v url.Values) { v.Set("response_type", "id_token token") }, "unsupported_response_type"},
		"no nonce":              {func(v url.Values) { v.Del("nonce") }, "invalid_request"},
		"duplicate nonce":       {func(v url.Values) { v.Add("nonce", "other") }, "invalid_request"},
		"request_uri":           {func(v url.Values) { v.Set("request_uri", "https://x.example/r") }, "request_uri_not_supported"},
		"prompt none":           {func(v url.Values) { v.Set("prompt", "none") }, "login_required"},
		"form_post response":    {func(v url.Values) { v.Set("response_mode", "form_post") }, "invalid_request"},
		"control char in state": {func(v url.Values) { v.Set("state", "a\nb") }, "invalid_request"},
	}
	for name, c := range redirects {
		t.Run(name, func(t *testing.T) {
			v := authorizeParams(rc.ID, redirect)
			c.mutate(v)
			resp, body := f.newBrowser().get(f.base + "/oidc/authorize?" + v.Encode())
			if resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("%d %s", resp.StatusCode, body)
			}
			loc, _ := url.Parse(resp.Header.Get("Location"))
			q := loc.Query()
			if loc.Host != "app-a.example" || q.Get("tenant") != "7" || q.Get("error") != c.code || q.Get("iss") != f.base+"/oidc" {
				t.Fatalf("Location %s", loc)
			}
			if st := v.Get("state"); !strings.ContainsAny(st, "\n") && q.Get("state") != st {
				t.Fatalf("state %q not echoed", q.Get("state"))
			}
			if q.Get("code") != "" {
				t.Fatal("an error redirect carries a code")
			}
		})
	}

	t.Run("POST form", func(t *testing.T) {
		code, body, _ := f.do("POST", "/oidc/authorize", "application/x-www-form-urlencoded", "", []byte(authorizeParams(rc.ID, redirect).Encode()))
		if code != 200 || !strings.Contains(string(body), "openid4vp://") {
			t.Fatalf("%d %s", code, body)
		}
	})
	t.Run("malformed query", func(t *testing.T) {
		resp, _ := f.newBrowser().get(f.base + "/oidc/authorize?client_id=%zz")
		if resp.StatusCode != 400 || resp.Header.Get("Location") != "" {
			t.Fatalf("%d", resp.StatusCode)
		}
	})
}

func TestSignInBoundToBrowser(t *testing.T) {
	f := newFixture(t)
	rc := f.register(map[string]any{"client_name": "A", "redirect_uris": []string{"https://app-a.example/cb"}, "allowed_claims": []string{"given_name"}})
	b := f.newBrowser()
	page := b.open(f.base + "/oidc/authorize?" + authorizeParams(rc.ID, rc.RedirectURIs[0]).Encode())

	// Completing before the wallet answered: a page, no code.
	resp, body := b.complete(page)
	if resp.StatusCode != http.StatusConflict || resp.Header.Get("Location") != "" {
		t.Fatalf("complete while pending: %d %s", resp.StatusCode, body)
	}
	if code, body := f.wallet(page.Link, f.newPatient(nil), nil); code != 200 {
		t.Fatalf("wallet: %d %s", code, body)
	}
	// Another browser (no binding cookie) can neither watch nor finish.
	other := f.newBrowser()
	if code, _ := other.status(page); code != http.StatusForbidden {
		t.Fatalf("status from another browser: %d", code)
	}
	if resp, _ := other.complete(page); resp.StatusCode != http.StatusForbidden || resp.Header.Get("Location") != "" {
		t.Fatalf("complete from another browser: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	// The right browser still completes, once.
	resp, _ = b.complete(page)
	if resp.StatusCode != http.StatusSeeOther || !strings.Contains(resp.Header.Get("Location"), "code=") {
		t.Fatalf("complete: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if code, st := b.status(page); code != http.StatusNotFound || st != "expired" {
		t.Fatalf("status after completion: %d %q", code, st)
	}
	resp, _ = b.complete(page)
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("second completion: %d", resp.StatusCode)
	}
}

func TestSignInRefusedOrExpired(t *testing.T) {
	f := newFixture(t)
	rc := f.register(map[string]any{"client_name": "A", "redirect_uris": []string{"https://app-a.example/cb"}, "allowed_claims": []string{"given_name"}})
	authURL := f.base + "/oidc/authorize?" + authorizeParams(rc.ID, rc.RedirectURIs[0]).Encode()

	t.Run("wallet refuses", func(t *testing.T) {
		b := f.newBrowser()
		page := b.open(authURL)
		if code, body := f.walletRefuse(page.Link); code != 200 {
			t.Fatalf("wallet: %d %s", code, body)
		}
		if _, st := b.status(page); st != "failed" {
			t.Fatalf("status %q", st)
		}
		resp, _ := b.complete(page)
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode != http.StatusSeeOther || loc.Query().Get("error") != "access_denied" || loc.Query().Get("state") != "st-1" || loc.Query().Get("code") != "" {
			t.Fatalf("%d %s", resp.StatusCode, loc)
		}
	})
	t.Run("untrusted credential issuer", func(t *testing.T) {
		b := f.newBrowser()
		page := b.open(authURL)
		p := f.newPatient(nil)
		saved := f.issuer
		f.issuer = mustKey(t, "ES256")
		p2 := f.newPatient(nil) // signed by a key the verifier does not trust
		f.issuer = saved
		p.cred = p2.cred
		p.key = p2.key
		if code, _ := f.wallet(page.Link, p, nil); code != 400 {
			t.Fatalf("wallet with an untrusted credential: %d", code)
		}
		resp, _ := b.complete(page)
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if loc.Query().Get("error") != "access_denied" {
			t.Fatalf("%d %s", resp.StatusCode, loc)
		}
	})
	t.Run("expired", func(t *testing.T) {
		b := f.newBrowser()
		page := b.open(authURL)
		f.clock.Advance(11 * time.Minute)
		if _, st := b.status(page); st != "expired" {
			t.Fatalf("status %q", st)
		}
		resp, _ := b.complete(page)
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode != http.StatusSeeOther || loc.Query().Get("error") != "access_denied" {
			t.Fatalf("%d %s", resp.StatusCode, loc)
		}
	})
}

func TestClientAdminAPI(t *testing.T) {
	f := newFixture(t)
	admin := "Bearer " + adminToken
	bad := map[string]struct {
		body  string
		field string
	}{
		"no name":            {`{"client_name":"","redirect_uris":["https://a.example/cb"],"allowed_claims":[]}`, "client_name"},
		"no redirect":        {`{"client_name":"A","redirect_uris":[],"allowed_claims":[]}`, "redirect_uris"},
		"http redirect":      {`{"client_name":"A","redirect_uris":["http://a.example/cb"],"allowed_claims":[]}`, "redirect_uris[0]"},
		"fragment":           {`{"client_name":"A","redirect_uris":["https://a.example/cb#x"],"allowed_claims":[]}`, "redirect_uris[0]"},
		"relative":           {`{"client_name":"A","redirect_uris":["/cb"],"allowed_claims":[]}`, "redirect_uris[0]"},
		"two hosts":          {`{"client_name":"A","redirect_uris":["https://a.example/cb","https://b.example/cb"],"allowed_claims":[]}`, "redirect_uris[1]"},
		"unknown claim":      {`{"client_name":"A","redirect_uris":["https://a.example/cb"],"allowed_claims":["ssn"]}`, "allowed_claims[0]"},
		"bad auth method":    {`{"client_name":"A","redirect_uris":["https://a.example/cb"],"allowed_claims":[],"token_endpoint_auth_method":"private_key_jwt"}`, "token_endpoint_auth_method"},
		"unknown member":     {`{"client_name":"A","redirect_uris":["https://a.example/cb"],"scope":"x"}`, "scope"},
		"control chars name": {`{"client_name":"A\u0007","redirect_uris":["https://a.example/cb"]}`, "client_name"},
	}
	for name, c := range bad {
		code, body, h := f.do("POST", "/oidc/clients", "application/json", admin, []byte(c.body))
		var p struct{ Field string }
		_ = json.Unmarshal(body, &p)
		if code != 400 || !strings.HasPrefix(h.Get("Content-Type"), "application/problem+json") || p.Field != c.field {
			t.Errorf("%s: %d %s", name, code, body)
		}
	}
	if code, _, _ := f.do("POST", "/oidc/clients", "application/json", "", []byte(`{"client_name":"A","redirect_uris":["https://a.example/cb"]}`)); code != 401 {
		t.Fatalf("registration without the admin token: %d", code)
	}

	rc := f.register(map[string]any{"client_name": "A", "redirect_uris": []string{"https://a.example/cb"}, "allowed_claims": []string{"given_name", "given_name"}})
	code, body, _ := f.do("GET", "/oidc/clients/"+rc.ID, "", admin, nil)
	if code != 200 || strings.Contains(string(body), `"client_secret":`) || !strings.Contains(string(body), `"allowed_claims":["given_name"]`) {
		t.Fatalf("get: %d %s", code, body)
	}
	if code, _, _ := f.do("GET", "/oidc/clients/"+rc.ID, "", "", nil); code != 401 {
		t.Fatalf("get without the admin token: %d", code)
	}

	// A login, then the client is deleted: its token and secret stop working.
	r := f.relyingParty(rc, oauth2.AuthStyleInHeader)
	tok, _, _ := r.login(f.newPatient(nil), nil)
	z := r.authorize(f.newPatient(nil), nil)
	if code, _, _ := f.do("DELETE", "/oidc/clients/"+rc.ID, "", admin, nil); code != 204 {
		t.Fatalf("delete: %d", code)
	}
	if code, _, _ := f.do("GET", "/oidc/clients/"+rc.ID, "", admin, nil); code != 404 {
		t.Fatalf("get after delete: %d", code)
	}
	if code, _, _ := f.do("DELETE", "/oidc/clients/"+rc.ID, "", admin, nil); code != 404 {
		t.Fatalf("second delete: %d", code)
	}
	if code, _, _ := f.do("GET", "/oidc/userinfo", "", "Bearer "+tok.AccessToken, nil); code != 401 {
		t.Fatalf("userinfo of a deleted client: %d", code)
	}
	status, out, _ := f.tokenRequest(url.Values{"grant_type": {"authorization_code"}, "code": {z.code},
		"redirect_uri": {rc.RedirectURIs[0]}, "code_verifier": {z.verifier}}, rc.ID, rc.ClientSecret)
	if status != 401 || out["error"] != "invalid_client" {
		t.Fatalf("token for a deleted client: %d %v", status, out)
	}
}

func TestDiscoveryAndJWKS(t *testing.T) {
	f := newFixture(t)
	code, body, _ := f.do("GET", "/oidc/.well-known/openid-configuration", "", "", nil)
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	var m map[string]any
	_ = json.Unmarshal(body, &m)
	want := map[string]any{"issuer": f.base + "/oidc", "authorization_endpoint": f.base + "/oidc/authorize",
		"token_endpoint": f.base + "/oidc/token", "userinfo_endpoint": f.base + "/oidc/userinfo", "jwks_uri": f.base + "/oidc/jwks"}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %v, want %v", k, m[k], v)
		}
	}
	for k, v := range map[string]string{"subject_types_supported": "pairwise", "id_token_signing_alg_values_supported": "ES256",
		"code_challenge_methods_supported": "S256", "response_types_supported": "code"} {
		if l, _ := m[k].([]any); len(l) != 1 || l[0] != v {
			t.Errorf("%s = %v, want [%s]", k, m[k], v)
		}
	}
	code, body, h := f.do("GET", "/oidc/jwks", "", "", nil)
	var set struct{ Keys []map[string]any }
	if err := json.Unmarshal(body, &set); err != nil || code != 200 || len(set.Keys) != 1 {
		t.Fatalf("jwks: %d %s", code, body)
	}
	k := set.Keys[0]
	if k["kid"] != "oidc-1" || k["alg"] != "ES256" || k["crv"] != "P-256" || k["use"] != "sig" || k["d"] != nil {
		t.Fatalf("jwk %v", k)
	}
	if h.Get("Content-Type") != "application/jwk-set+json" {
		t.Errorf("content type %q", h.Get("Content-Type"))
	}
	// Key rotation times its steps by this max-age (openapi.yaml says 300).
	if cc := h.Get("Cache-Control"); cc != "public, max-age=300" {
		t.Errorf("JWKS Cache-Control %q", cc)
	}
}

func TestGarbageNever500(t *testing.T) {
	f := newFixture(t)
	long := strings.Repeat("a", 5000)
	reqs := []struct{ method, path, ctype, auth, body string }{
		{"GET", "/oidc/authorize/" + long + "/status", "", "", ""},
		{"GET", "/oidc/authorize/%2e%2e/complete", "", "", ""},
		{"GET", "/oidc/authorize/abc/complete", "", "", ""},
		{"GET", "/oidc/authorize?" + strings.Repeat("x=1&", 5000), "", "", ""},
		{"POST", "/oidc/authorize", "text/plain", "", "client_id=x"},
		{"POST", "/oidc/token", "application/x-www-form-urlencoded", "Basic " + long, "grant_type=authorization_code"},
		{"POST", "/oidc/token", "application/x-www-form-urlencoded", "", "%zz"},
		{"POST", "/oidc/token", "application/x-www-form-urlencoded", "", strings.Repeat("a", 20<<10)},
		{"POST", "/oidc/token", "application/x-www-form-urlencoded", "", "grant_type=authorization_code&client_id=" + long},
		{"GET", "/oidc/userinfo", "", "Bearer " + long, ""},
		{"GET", "/oidc/clients/" + long, "", "Bearer " + adminToken, ""},
		{"POST", "/oidc/clients", "application/json", "Bearer " + adminToken, `{"client_name":` + long},
	}
	for _, r := range reqs {
		code, body, _ := f.do(r.method, r.path, r.ctype, r.auth, []byte(r.body))
		if code >= 500 || code < 400 {
			t.Errorf("%s %.60s: %d %.200s", r.method, r.path, code, body)
		}
	}
}
