package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/medid/medid/internal/app"
	"github.com/medid/medid/internal/config"
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
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
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
		resp.Body.Close()
		return resp.StatusCode, resp.Header
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
