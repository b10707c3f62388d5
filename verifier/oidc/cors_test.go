package oidc_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/medid/medid/verifier/oidc"
)

// TestCORS: a single-page client platform can read discovery and the
// JWKS, redeem a code and call userinfo from its own origin, errors
// included; the browser routes and the client API stay closed to other
// origins' scripts.
func TestCORS(t *testing.T) {
	f := newFixture(t)
	rc := f.register(map[string]any{"client_name": "SPA", "redirect_uris": []string{"http://127.0.0.1:5173/cb"},
		"allowed_claims": []string{"given_name"}, "token_endpoint_auth_method": "none"})
	const origin = "http://127.0.0.1:5173"
	send := func(method, path, ctype, auth, body string, hdr map[string]string) (int, string, http.Header) {
		t.Helper()
		req, err := http.NewRequest(method, f.base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Origin", origin)
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}

	for _, path := range []string{oidc.PathDiscovery, oidc.PathJWKS} {
		code, _, h := send("GET", path, "", "", "", nil)
		if code != http.StatusOK || h.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("GET %s: %d, Access-Control-Allow-Origin %q", path, code, h.Get("Access-Control-Allow-Origin"))
		}
	}

	for path, method := range map[string]string{oidc.PathToken: "POST", oidc.PathUserInfo: "GET", oidc.PathJWKS: "GET", oidc.PathDiscovery: "GET"} {
		code, _, h := send("OPTIONS", path, "", "", "", map[string]string{
			"Access-Control-Request-Method": method, "Access-Control-Request-Headers": "authorization, content-type"})
		if code != http.StatusNoContent || h.Get("Access-Control-Allow-Origin") != "*" ||
			!strings.Contains(h.Get("Access-Control-Allow-Methods"), method) ||
			!strings.Contains(h.Get("Access-Control-Allow-Headers"), "Authorization") ||
			!strings.Contains(h.Get("Access-Control-Allow-Headers"), "Content-Type") {
			t.Errorf("preflight of %s %s: %d %v", method, path, code, h)
		}
		if h.Get("Access-Control-Allow-Credentials") != "" {
			t.Errorf("preflight of %s allows credentials", path)
		}
	}

	// The SPA reads the token endpoint's error.
	code, body, h := send("POST", oidc.PathToken, "application/x-www-form-urlencoded", "",
		"grant_type=authorization_code&code=nope&redirect_uri=http%3A%2F%2F127.0.0.1%3A5173%2Fcb&client_id="+rc.ID+"&code_verifier="+strings.Repeat("v", 43), nil)
	if code != http.StatusBadRequest || !strings.Contains(body, `"invalid_grant"`) || h.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("token error: %d %s, Access-Control-Allow-Origin %q", code, body, h.Get("Access-Control-Allow-Origin"))
	}
	// And userinfo's, with the WWW-Authenticate challenge exposed.
	code, _, h = send("GET", oidc.PathUserInfo, "", "Bearer not-a-token", "", nil)
	if code != http.StatusUnauthorized || h.Get("Access-Control-Allow-Origin") != "*" ||
		!strings.Contains(h.Get("Access-Control-Expose-Headers"), "WWW-Authenticate") || h.Get("WWW-Authenticate") == "" {
		t.Errorf("userinfo error: %d %v", code, h)
	}

	// Not the sign-in page (it sets the binding cookie) nor the client API.
	code, _, h = send("OPTIONS", oidc.PathAuthorize, "", "", "", map[string]string{"Access-Control-Request-Method": "POST"})
	if h.Get("Access-Control-Allow-Origin") != "" || h.Get("Access-Control-Allow-Methods") != "" {
		t.Errorf("preflight of the authorization endpoint: %d %v", code, h)
	}
	code, _, h = send("GET", oidc.PathClients+"/"+rc.ID, "", "Bearer "+adminToken, "", nil)
	if code != http.StatusOK || h.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("client API: %d, Access-Control-Allow-Origin %q", code, h.Get("Access-Control-Allow-Origin"))
	}
}
