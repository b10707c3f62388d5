package e2e

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/medid/medid/credentials/health"
	"github.com/medid/medid/internal/app"
	"github.com/medid/medid/internal/config"
	"github.com/medid/medid/internal/keys"
)

// TestWalletCORS: a web wallet on a configured origin can call the wallet
// API from the browser (preflight and answers); other origins, other
// routes, and a server without configured origins get no CORS headers.
func TestWalletCORS(t *testing.T) {
	const wallet = "https://wallet.example"
	srv := startServerConfig(t, &config.Config{DataDir: tempData(t), LogLevel: "warn", AllowInsecureDIDWeb: true,
		WalletOrigins: []string{"https://Wallet.Example:443"}}, app.Options{})
	plain := startServer(t, tempData(t), nil)

	send := func(base, method, path, origin string, hdr map[string]string, body string) (int, http.Header) {
		t.Helper()
		code, _, h := corsRequest(t, method, base+path, origin, hdr, body)
		return code, h
	}
	preflight := map[string]string{"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization, content-type"}
	jsonBody := map[string]string{"Content-Type": "application/json"}
	account := `{"username": "cors-patient", "password": "correct horse battery staple"}`

	code, h := send(srv.URL, "OPTIONS", "/wallet/accounts", wallet, preflight, "")
	if code != http.StatusNoContent || h.Get("Access-Control-Allow-Origin") != wallet ||
		!strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") || !strings.Contains(h.Get("Access-Control-Allow-Headers"), "Authorization") ||
		h.Get("Access-Control-Allow-Credentials") != "" || !strings.Contains(strings.Join(h.Values("Vary"), ","), "Origin") {
		t.Fatalf("preflight from the wallet's origin: %d %v", code, h)
	}
	code, h = send(srv.URL, "POST", "/wallet/accounts", wallet, jsonBody, account)
	if code != http.StatusCreated || h.Get("Access-Control-Allow-Origin") != wallet || !strings.Contains(h.Get("Access-Control-Expose-Headers"), "Location") {
		t.Fatalf("account creation from the wallet's origin: %d %v", code, h)
	}
	code, h = send(srv.URL, "GET", "/wallet/credentials", wallet, map[string]string{"Authorization": "Bearer nope"}, "")
	if code != http.StatusUnauthorized || h.Get("Access-Control-Allow-Origin") != wallet {
		t.Fatalf("an error to the wallet's origin: %d %v", code, h)
	}

	for _, c := range []struct {
		name, base, path, origin string
	}{
		{"another origin", srv.URL, "/wallet/accounts", "https://evil.example"},
		{"the wallet's host over http", srv.URL, "/wallet/accounts", "http://wallet.example"},
		{"another route", srv.URL, "/verifier/audit", wallet},
		{"a server without wallet origins", plain.URL, "/wallet/accounts", wallet},
	} {
		_, h := send(c.base, "OPTIONS", c.path, c.origin, preflight, "")
		if h.Get("Access-Control-Allow-Origin") != "" || h.Get("Access-Control-Allow-Methods") != "" {
			t.Errorf("%s: preflight granted: %v", c.name, h)
		}
		_, h = send(c.base, "POST", c.path, c.origin, jsonBody, `{}`)
		if h.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("%s: answer readable: %v", c.name, h)
		}
	}
}

// TestPublicCORS: a browser-based wallet, verifier or auditor on any
// origin can call what it needs (OpenID4VCI, the documents credentials
// refer to, DID resolution, the ledger, the OpenID4VP request and
// response URIs) and read the answers, errors included, with the
// preflights of the routes that need one; the back office and the QR
// codes stay closed to other origins' scripts.
func TestPublicCORS(t *testing.T) {
	srv := startServer(t, tempData(t), nil)
	holder, err := keys.Generate(keys.ES256)
	if err != nil {
		t.Fatal(err)
	}
	cred := issuePatientIdentity(t, srv.URL, srv.Admin, holder)
	claims := jwtClaims(t, strings.SplitN(cred, "~", 2)[0])
	statusURI, _ := claims["status"].(map[string]any)["status_list"].(map[string]any)["uri"].(string)
	vct, _ := claims["vct"].(string)
	iss, _ := claims["iss"].(string)
	if !strings.HasPrefix(statusURI, srv.URL) || !strings.HasPrefix(vct, srv.URL) || iss == "" {
		t.Fatalf("credential claims: status %q, vct %q, iss %q", statusURI, vct, iss)
	}

	const origin = "https://wallet.example"
	send := func(method, path string, hdr map[string]string, body string) (int, string, http.Header) {
		t.Helper()
		return corsRequest(t, method, srv.URL+path, origin, hdr, body)
	}
	open := func(what string, code, want int, h http.Header) {
		t.Helper()
		if code != want || h.Get("Access-Control-Allow-Origin") != "*" || h.Get("Access-Control-Allow-Credentials") != "" {
			t.Errorf("%s: %d (want %d), Access-Control-Allow-Origin %q", what, code, want, h.Get("Access-Control-Allow-Origin"))
		}
	}

	for path, want := range map[string]int{
		"/.well-known/openid-credential-issuer":   http.StatusOK,
		"/.well-known/oauth-authorization-server": http.StatusOK,
		"/.well-known/jwt-vc-issuer":              http.StatusOK,
		strings.TrimPrefix(statusURI, srv.URL):    http.StatusOK,
		strings.TrimPrefix(vct, srv.URL):          http.StatusOK,
		health.ContextPath:                        http.StatusOK,
		"/1.0/identifiers/" + iss:                 http.StatusOK,
		"/ledger/checkpoint":                      http.StatusOK,
		"/status/token/no-such-list":              http.StatusNotFound,
		"/issuer/offers/no-such-offer":            http.StatusNotFound,
		"/1.0/identifiers/did:medid:nope":         http.StatusBadRequest,
		"/verifier/requests/no-such-request":      http.StatusNotFound,
		"/vct/NoSuchCredential":                   http.StatusNotFound,
		"/schemas/no-such-schema.json":            http.StatusNotFound,
	} {
		code, body, h := send("GET", path, nil, "")
		open("GET "+path+" "+strings.TrimSpace(body[:min(len(body), 80)]), code, want, h)
	}

	// The schema the type metadata names.
	_, body, _ := send("GET", strings.TrimPrefix(vct, srv.URL), nil, "")
	var md struct {
		SchemaURI string `json:"schema_uri"`
	}
	if err := json.Unmarshal([]byte(body), &md); err != nil || !strings.HasPrefix(md.SchemaURI, srv.URL+"/schemas/") {
		t.Fatalf("type metadata: %v, schema_uri %q", err, md.SchemaURI)
	}
	code, _, h := send("GET", strings.TrimPrefix(md.SchemaURI, srv.URL), nil, "")
	open("GET "+md.SchemaURI, code, http.StatusOK, h)

	vci := map[string]string{"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization, content-type, dpop"}
	for _, path := range []string{"/token", "/nonce", "/credential", "/deferred_credential", "/notification"} {
		code, _, h := send("OPTIONS", path, vci, "")
		open("preflight of "+path, code, http.StatusNoContent, h)
		if !strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") || !strings.Contains(h.Get("Access-Control-Allow-Headers"), "DPoP") ||
			!strings.Contains(h.Get("Access-Control-Allow-Headers"), "Authorization") {
			t.Errorf("preflight of %s: %v", path, h)
		}
	}
	for path, method := range map[string]string{"/verifier/requests/x": "POST", "/verifier/responses/x": "POST"} {
		code, _, h := send("OPTIONS", path, map[string]string{"Access-Control-Request-Method": method}, "")
		open("preflight of "+path, code, http.StatusNoContent, h)
	}

	// The wallet reads the OAuth errors, and the DPoP nonce challenge is exposed.
	form := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	code, body, h = send("POST", "/token", form, "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Apre-authorized_code&pre-authorized_code=nope")
	open("POST /token "+body, code, http.StatusBadRequest, h)
	if !strings.Contains(body, `"invalid_grant"`) || !strings.Contains(h.Get("Access-Control-Expose-Headers"), "DPoP-Nonce") {
		t.Errorf("token error: %s, exposes %q", body, h.Get("Access-Control-Expose-Headers"))
	}
	code, body, h = send("POST", "/nonce", nil, "")
	open("POST /nonce", code, http.StatusOK, h)
	if !strings.Contains(body, "c_nonce") {
		t.Errorf("nonce: %s", body)
	}
	code, _, h = send("POST", "/credential", map[string]string{"Content-Type": "application/json", "Authorization": "Bearer nope"}, `{}`)
	open("POST /credential", code, http.StatusUnauthorized, h)
	if h.Get("WWW-Authenticate") == "" || !strings.Contains(h.Get("Access-Control-Expose-Headers"), "WWW-Authenticate") {
		t.Errorf("credential error: %v", h)
	}
	code, _, h = send("POST", "/verifier/responses/x", form, "vp_token=x")
	open("POST /verifier/responses/x", code, http.StatusNotFound, h)

	// Closed: the back office, the QR codes, the VC-API.
	for _, c := range []struct{ method, path string }{
		{"OPTIONS", "/issuer/offers"}, {"POST", "/issuer/offers"}, {"GET", "/issuer/offers/x/qr.png"},
		{"GET", "/issuer/credentials"}, {"POST", "/presentations/verify"}, {"OPTIONS", "/presentations/verify"},
	} {
		_, _, h := send(c.method, c.path, vci, "")
		if h.Get("Access-Control-Allow-Origin") != "" || h.Get("Access-Control-Allow-Methods") != "" {
			t.Errorf("%s %s answers CORS: %v", c.method, c.path, h)
		}
	}
}

// jwtClaims decodes the payload of a compact JWS, unverified.
func jwtClaims(t *testing.T, jws string) map[string]any {
	t.Helper()
	parts := strings.Split(jws, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS: %q", jws)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// corsRequest sends a request as a script of origin ("" for none) would,
// with the headers in hdr, and returns the answer's status, body and
// headers.
func corsRequest(t *testing.T, method, u, origin string, hdr map[string]string, body string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
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
