package issuer

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/medid/medid/internal/keys"
)

var fuzzNow = time.Unix(1_760_000_000, 0)

func FuzzVerifyDPoP(f *testing.F) {
	const token = "fuzz-access-token"
	in := DPoPInput{Method: "POST", URL: "https://issuer.example/credential"}
	es, _ := keys.Generate(keys.ES256)
	ed, _ := keys.Generate(keys.EdDSA)
	b64 := base64.RawURLEncoding.EncodeToString
	for _, s := range []string{
		dpop(f, es, dpopOpts{htu: in.URL, token: token, iat: fuzzNow}),
		dpop(f, ed, dpopOpts{htu: in.URL + "?q#f", token: token, iat: fuzzNow, nonce: "n"}),
		dpop(f, es, dpopOpts{htu: in.URL, iat: fuzzNow}),
		dpop(f, ed, dpopOpts{htu: in.URL, token: token, iat: fuzzNow, header: func(h map[string]any) { h["alg"] = "ES256" }}),
		b64([]byte(`{"typ":"dpop+jwt","alg":"none"}`)) + "." + b64([]byte(`{"jti":"a","htm":"POST","htu":"https://issuer.example/credential","iat":1760000000}`)) + ".",
		b64([]byte(`{"typ":"dpop+jwt","alg":"HS256","jwk":{"kty":"oct","k":"AAAA"}}`)) + "." + b64([]byte(`{}`)) + ".AAAA",
		b64([]byte(`{"typ":"dpop+jwt","alg":"ES256","jwk":null}`)) + ".e30.AAAA",
		b64([]byte(`{"typ":"dpop+jwt","alg":"ES256","jwk":{"kty":"EC","crv":"P-256","x":"","y":""}}`)) + ".e30.AAAA",
		"", ".", "..", "a.b.c", "e30.e30.e30", "e30.e30.", strings.Repeat("A", 100) + ".." + strings.Repeat("B", 10),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := verifyDPoP(s, in, token, fuzzNow, 5*time.Minute, time.Minute)
		if (p == nil) == (err == nil) {
			t.Fatalf("verifyDPoP returned %v and %v", p, err)
		}
		if err != nil {
			oe := AsOAuth(err)
			if oe == nil || oe.Code != CodeInvalidDPoPProof || oe.Status != 400 {
				t.Fatalf("error is not invalid_dpop_proof: %#v", err)
			}
			return
		}
		if p.JKT == "" || p.JTI == "" || len(p.JTI) > maxJTILen {
			t.Fatalf("verified proof with jkt %q jti %q", p.JKT, p.JTI)
		}
		if p.IAT.Before(fuzzNow.Add(-5*time.Minute)) || p.IAT.After(fuzzNow.Add(time.Minute)) {
			t.Fatalf("verified proof with iat %v", p.IAT)
		}
		// The same proof never verifies for another token or method.
		if _, err := verifyDPoP(s, in, token+"x", fuzzNow, 5*time.Minute, time.Minute); err == nil {
			t.Fatal("proof verified for another access token")
		}
		if _, err := verifyDPoP(s, DPoPInput{Method: "GET", URL: in.URL}, token, fuzzNow, 5*time.Minute, time.Minute); err == nil {
			t.Fatal("proof verified for another method")
		}
	})
}

func FuzzNormalizeHTU(f *testing.F) {
	for _, s := range []string{
		"https://issuer.example/token", "HTTPS://Issuer.Example:443/token?a#b", "http://[::1]:80", "https://[fe80::1%25en0]/x",
		"https://u@h/", "//h/p", "/p", "", "https://h/%2F%zz", "https://h:99999/", "mailto:a@b",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, ok := normalizeHTU(s)
		if sameHTU(s, s) != ok {
			t.Fatalf("sameHTU(%q, itself) = %v, normalizable %v", s, !ok, ok)
		}
		if !ok {
			return
		}
		if !strings.HasPrefix(n, "http://") && !strings.HasPrefix(n, "https://") {
			t.Fatalf("normalized %q to %q", s, n)
		}
		if strings.ContainsAny(n, "?#") {
			t.Fatalf("normalized %q keeps a query or fragment: %q", s, n)
		}
		if n2, ok := normalizeHTU(n); !ok || n2 != n {
			t.Fatalf("not idempotent: %q → %q → %q (%v)", s, n, n2, ok)
		}
	})
}
