package issuer

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medid/medid/internal/keys"
)

// dpopOpts describes one DPoP proof; zero values take the defaults a
// correct wallet would use.
type dpopOpts struct {
	htm, htu, token, nonce string
	iat                    time.Time
	header                 func(h map[string]any)
	claims                 func(c map[string]any)
}

// signJWS signs header.payload with k exactly as given (ES256 or EdDSA).
func signJWS(t testing.TB, k *keys.PrivateKey, hdr, claims map[string]any) string {
	t.Helper()
	hb, _ := json.Marshal(hdr)
	pb, _ := json.Marshal(claims)
	input := base64.RawURLEncoding.EncodeToString(hb) + "." + base64.RawURLEncoding.EncodeToString(pb)
	var sig []byte
	switch signer := k.Signer().(type) {
	case *ecdsa.PrivateKey:
		sum := sha256.Sum256([]byte(input))
		r, s, err := ecdsa.Sign(rand.Reader, signer, sum[:])
		if err != nil {
			t.Fatal(err)
		}
		sig = make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
	default:
		var err error
		sig, err = signer.Sign(rand.Reader, []byte(input), crypto.Hash(0))
		if err != nil {
			t.Fatal(err)
		}
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// dpop makes a DPoP proof with k for o.
func dpop(t testing.TB, k *keys.PrivateKey, o dpopOpts) string {
	t.Helper()
	jwk, err := k.PublicJWKJSON()
	if err != nil {
		t.Fatal(err)
	}
	hdr := map[string]any{"typ": DPoPType, "alg": string(k.Algorithm()), "jwk": json.RawMessage(jwk)}
	if o.htm == "" {
		o.htm = "POST"
	}
	claims := map[string]any{"jti": randomToken(12), "htm": o.htm, "htu": o.htu, "iat": o.iat.Unix()}
	if o.token != "" {
		claims["ath"] = accessTokenHash(o.token)
	}
	if o.nonce != "" {
		claims["nonce"] = o.nonce
	}
	if o.header != nil {
		o.header(hdr)
	}
	if o.claims != nil {
		o.claims(claims)
	}
	return signJWS(t, k, hdr, claims)
}

// send makes a request with exact headers.
func (e *env) send(method, path, ctype, body string, hdr http.Header) (int, map[string]any, http.Header) {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.url+path, strings.NewReader(body))
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for k, vs := range hdr {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out, resp.Header
}

// dpopToken redeems a fresh offer's code with the given DPoP headers.
func (e *env) dpopToken(code string, proofs ...string) (int, map[string]any, http.Header) {
	form := url.Values{"grant_type": {GrantPreAuthorized}, "pre-authorized_code": {code}}
	return e.send("POST", "/token", "application/x-www-form-urlencoded", form.Encode(), http.Header{"Dpop": proofs})
}

// newCode creates a fresh offer and returns its pre-authorized code.
func (e *env) newCode(deferred bool) (offerID, code string) {
	e.t.Helper()
	body, _ := json.Marshal(map[string]any{"credential_configuration_ids": []string{"PatientIdentityCredential_dc+sd-jwt"},
		"claims": map[string]any{"given_name": "Ada", "family_name": "Lovelace-Secret"}, "deferred": deferred})
	s, out, _ := e.do("POST", "/issuer/offers", "application/json", string(body), admin)
	if s != http.StatusCreated {
		e.t.Fatalf("create offer: %d %v", s, out)
	}
	_, code, _ = (&wallet{e: e}).fetchOffer(out["offer_uri"].(string))
	return out["id"].(string), code
}

// dpopCredential calls the credential endpoint with a DPoP-bound token.
func (e *env) dpopCredential(token string, proofs []string, keyProofs ...string) (int, map[string]any, http.Header) {
	body, _ := json.Marshal(map[string]any{"credential_configuration_id": "PatientIdentityCredential_dc+sd-jwt", "proofs": map[string]any{"jwt": keyProofs}})
	return e.send("POST", "/credential", "application/json", string(body), http.Header{"Authorization": {"DPoP " + token}, "Dpop": proofs})
}

func TestDPoPBoundFlow(t *testing.T) {
	e := newEnv(t)
	w := newWallet(e, 1)
	for _, alg := range []keys.Algorithm{keys.ES256, keys.EdDSA} {
		t.Run(string(alg), func(t *testing.T) {
			dk, _ := keys.Generate(alg)
			_, code := e.newCode(false)
			now := e.clock.Now()
			s, tok, _ := e.dpopToken(code, dpop(t, dk, dpopOpts{htu: e.url + "/token", iat: now}))
			if s != 200 || tok["token_type"] != "DPoP" {
				t.Fatalf("token: %d %v", s, tok)
			}
			at := tok["access_token"].(string)
			// htu is compared without query and fragment, after
			// normalising the scheme and host case.
			htu := strings.Replace(e.url, "http://", "HTTP://", 1) + "/credential?x=1#frag"
			s, cred, _ := e.dpopCredential(at, []string{dpop(t, dk, dpopOpts{htu: htu, token: at, iat: now})},
				proofJWT(t, w.keys[0], e.url, w.nonce(), now, nil))
			if s != 200 || len(cred["credentials"].([]any)) != 1 {
				t.Fatalf("credential: %d %v", s, cred)
			}
			body, _ := json.Marshal(map[string]any{"notification_id": cred["notification_id"], "event": "credential_accepted"})
			s, out, _ := e.send("POST", "/notification", "application/json", string(body),
				http.Header{"Authorization": {"DPoP " + at}, "Dpop": {dpop(t, dk, dpopOpts{htu: e.url + "/notification", token: at, iat: now})}})
			if s != http.StatusNoContent {
				t.Fatalf("notification: %d %v", s, out)
			}
		})
	}
	s, as, _ := e.do("GET", "/.well-known/oauth-authorization-server", "", "", "")
	algs, _ := as["dpop_signing_alg_values_supported"].([]any)
	if s != 200 || len(algs) != 2 || algs[0] != "ES256" || algs[1] != "EdDSA" {
		t.Fatalf("dpop_signing_alg_values_supported: %v", as)
	}
}

// A token request without DPoP still gets a Bearer token, usable only as
// Bearer.
func TestBearerTokenRefusedUnderDPoPScheme(t *testing.T) {
	e := newEnv(t)
	w := newWallet(e, 1)
	_, code := e.newCode(false)
	_, tok := w.token(code, "")
	if tok["token_type"] != "Bearer" {
		t.Fatalf("token: %v", tok)
	}
	at := tok["access_token"].(string)
	dk, _ := keys.Generate(keys.ES256)
	s, out, h := e.dpopCredential(at, []string{dpop(t, dk, dpopOpts{htu: e.url + "/credential", token: at, iat: e.clock.Now()})},
		proofJWT(t, w.keys[0], e.url, w.nonce(), e.clock.Now(), nil))
	if s != 401 || out["error"] != CodeInvalidToken || !strings.HasPrefix(h.Get("WWW-Authenticate"), `DPoP error="invalid_token"`) {
		t.Fatalf("bearer token as DPoP: %d %v %q", s, out, h.Get("WWW-Authenticate"))
	}
}

func TestDPoPTokenEndpointRefusals(t *testing.T) {
	e := newEnv(t)
	dk, _ := keys.Generate(keys.ES256)
	other, _ := keys.Generate(keys.ES256)
	ed, _ := keys.Generate(keys.EdDSA)
	_, code := e.newCode(false)
	now := e.clock.Now()
	htu := e.url + "/token"
	good := func(o dpopOpts) string {
		if o.htu == "" {
			o.htu = htu
		}
		if o.iat.IsZero() {
			o.iat = now
		}
		return dpop(t, dk, o)
	}
	unsigned := func(hdr, claims map[string]any, sig string) string {
		hb, _ := json.Marshal(hdr)
		pb, _ := json.Marshal(claims)
		return base64.RawURLEncoding.EncodeToString(hb) + "." + base64.RawURLEncoding.EncodeToString(pb) + "." + sig
	}
	claims := map[string]any{"jti": "j1", "htm": "POST", "htu": htu, "iat": now.Unix()}
	for _, tc := range []struct {
		name, why string
		proofs    []string
	}{
		{"bad typ", "typ", []string{good(dpopOpts{header: func(h map[string]any) { h["typ"] = "JWT" }})}},
		{"no typ", "typ", []string{good(dpopOpts{header: func(h map[string]any) { delete(h, "typ") }})}},
		{"key proof typ", "typ", []string{good(dpopOpts{header: func(h map[string]any) { h["typ"] = ProofType }})}},
		{"alg none", "compact JWT", []string{unsigned(map[string]any{"typ": DPoPType, "alg": "none", "jwk": json.RawMessage(mustJWK(t, dk))}, claims, "")}},
		{"alg none with a signature", "\"none\" is not allowed", []string{unsigned(map[string]any{"typ": DPoPType, "alg": "none", "jwk": json.RawMessage(mustJWK(t, dk))}, claims, "AAAA")}},
		{"HMAC", "\"HS256\" is not allowed", []string{func() string {
			secret := []byte("0123456789abcdef0123456789abcdef")
			hdr := map[string]any{"typ": DPoPType, "alg": "HS256",
				"jwk": map[string]any{"kty": "oct", "k": base64.RawURLEncoding.EncodeToString(secret)}}
			hb, _ := json.Marshal(hdr)
			pb, _ := json.Marshal(claims)
			input := base64.RawURLEncoding.EncodeToString(hb) + "." + base64.RawURLEncoding.EncodeToString(pb)
			m := hmac.New(sha256.New, secret)
			m.Write([]byte(input))
			return input + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
		}()}},
		{"private key in jwk", "private key material", []string{good(dpopOpts{header: func(h map[string]any) {
			var jwk map[string]any
			json.Unmarshal(mustJWK(t, dk), &jwk)
			der, _ := keys.ExportPKCS8(dk)
			jwk["d"] = base64.RawURLEncoding.EncodeToString(der[len(der)-32:])
			h["jwk"] = jwk
		}})}},
		{"no jwk", "jwk header", []string{good(dpopOpts{header: func(h map[string]any) { delete(h, "jwk") }})}},
		{"jwk of another key", "signature", []string{good(dpopOpts{header: func(h map[string]any) { h["jwk"] = json.RawMessage(mustJWK(t, other)) }})}},
		{"alg does not match the key", "does not match its key", []string{good(dpopOpts{header: func(h map[string]any) { h["jwk"] = json.RawMessage(mustJWK(t, ed)) }})}},
		{"crit", "crit", []string{good(dpopOpts{header: func(h map[string]any) { h["crit"] = []string{"exp"} }})}},
		{"wrong htm", "htm", []string{good(dpopOpts{htm: "GET"})}},
		{"lower-case htm", "htm", []string{good(dpopOpts{htm: "post"})}},
		{"wrong htu path", "htu", []string{good(dpopOpts{htu: e.url + "/credential"})}},
		{"wrong htu host", "htu", []string{good(dpopOpts{htu: "https://evil.example/token"})}},
		{"no htu", "htu", []string{good(dpopOpts{claims: func(c map[string]any) { delete(c, "htu") }})}},
		{"stale iat", "too old", []string{good(dpopOpts{iat: now.Add(-10 * time.Minute)})}},
		{"future iat", "future", []string{good(dpopOpts{iat: now.Add(5 * time.Minute)})}},
		{"no iat", "iat", []string{good(dpopOpts{claims: func(c map[string]any) { delete(c, "iat") }})}},
		{"string iat", "claims", []string{good(dpopOpts{claims: func(c map[string]any) { c["iat"] = "now" }})}},
		{"no jti", "jti", []string{good(dpopOpts{claims: func(c map[string]any) { delete(c, "jti") }})}},
		{"numeric jti", "claims", []string{good(dpopOpts{claims: func(c map[string]any) { c["jti"] = 7 }})}},
		{"two DPoP headers", "exactly one", []string{good(dpopOpts{}), good(dpopOpts{})}},
		{"not a JWT", "compact JWT", []string{"not-a-jwt"}},
		{"tampered payload", "signature", []string{func() string {
			p := strings.Split(good(dpopOpts{}), ".")
			c2 := map[string]any{"jti": "x", "htm": "POST", "htu": htu, "iat": now.Unix()}
			pb, _ := json.Marshal(c2)
			return p[0] + "." + base64.RawURLEncoding.EncodeToString(pb) + "." + p[2]
		}()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, out, _ := e.dpopToken(code, tc.proofs...)
			if s != 400 || out["error"] != CodeInvalidDPoPProof {
				t.Fatalf("%d %v, want 400 %s", s, out, CodeInvalidDPoPProof)
			}
			if d, _ := out["error_description"].(string); !strings.Contains(d, tc.why) {
				t.Fatalf("refused for another reason: %q, want %q", d, tc.why)
			}
		})
	}
	// None of the refusals spent the pre-authorized code.
	p := good(dpopOpts{})
	if s, out, _ := e.dpopToken(code, p); s != 200 || out["token_type"] != "DPoP" {
		t.Fatalf("good proof after refusals: %d %v", s, out)
	}
	// The same proof again, for another offer: a replayed jti.
	_, code2 := e.newCode(false)
	if s, out, _ := e.dpopToken(code2, p); s != 400 || out["error"] != CodeInvalidDPoPProof || !strings.Contains(out["error_description"].(string), "jti") {
		t.Fatalf("replayed proof: %d %v", s, out)
	}
}

func mustJWK(t testing.TB, k *keys.PrivateKey) []byte {
	t.Helper()
	j, err := k.PublicJWKJSON()
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func TestDPoPResourceRefusals(t *testing.T) {
	e := newEnv(t)
	w := newWallet(e, 1)
	dk, _ := keys.Generate(keys.ES256)
	other, _ := keys.Generate(keys.EdDSA)
	_, code := e.newCode(false)
	now := e.clock.Now()
	_, tok, _ := e.dpopToken(code, dpop(t, dk, dpopOpts{htu: e.url + "/token", iat: now}))
	at := tok["access_token"].(string)
	credURL := e.url + "/credential"
	keyProof := func() string { return proofJWT(t, w.keys[0], e.url, w.nonce(), now, nil) }
	check := func(t *testing.T, s int, out map[string]any, h http.Header, code string) {
		t.Helper()
		if s != 401 || out["error"] != code {
			t.Fatalf("%d %v, want 401 %s", s, out, code)
		}
		if code == CodeInvalidDPoPProof && !strings.HasPrefix(h.Get("WWW-Authenticate"), `DPoP error="invalid_dpop_proof"`) {
			t.Fatalf("WWW-Authenticate %q", h.Get("WWW-Authenticate"))
		}
	}
	for _, tc := range []struct {
		name   string
		proofs []string
	}{
		{"no DPoP proof", nil},
		{"missing ath", []string{dpop(t, dk, dpopOpts{htu: credURL, iat: now})}},
		{"wrong ath", []string{dpop(t, dk, dpopOpts{htu: credURL, token: "another-token", iat: now})}},
		{"key mismatch", []string{dpop(t, other, dpopOpts{htu: credURL, token: at, iat: now})}},
		{"proof for the token endpoint", []string{dpop(t, dk, dpopOpts{htu: e.url + "/token", token: at, iat: now})}},
		{"stale iat", []string{dpop(t, dk, dpopOpts{htu: credURL, token: at, iat: now.Add(-6 * time.Minute)})}},
		{"alg none", []string{func() string {
			hb, _ := json.Marshal(map[string]any{"typ": DPoPType, "alg": "none", "jwk": json.RawMessage(mustJWK(t, dk))})
			pb, _ := json.Marshal(map[string]any{"jti": "n", "htm": "POST", "htu": credURL, "iat": now.Unix(), "ath": accessTokenHash(at)})
			return base64.RawURLEncoding.EncodeToString(hb) + "." + base64.RawURLEncoding.EncodeToString(pb) + "."
		}()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, out, h := e.dpopCredential(at, tc.proofs, keyProof())
			check(t, s, out, h, CodeInvalidDPoPProof)
		})
	}
	t.Run("DPoP token used as Bearer", func(t *testing.T) {
		s, out, h := w.credential(at, "PatientIdentityCredential_dc+sd-jwt", keyProof())
		if s != 401 || out["error"] != CodeInvalidToken || h.Get("WWW-Authenticate") != `Bearer error="invalid_token"` {
			t.Fatalf("%d %v %q", s, out, h.Get("WWW-Authenticate"))
		}
		// Even with a valid proof alongside.
		body, _ := json.Marshal(map[string]any{"credential_configuration_id": "PatientIdentityCredential_dc+sd-jwt", "proofs": map[string]any{"jwt": []string{keyProof()}}})
		s, out, _ = e.send("POST", "/credential", "application/json", string(body),
			http.Header{"Authorization": {"Bearer " + at}, "Dpop": {dpop(t, dk, dpopOpts{htu: credURL, token: at, iat: now})}})
		check(t, s, out, nil, CodeInvalidToken)
	})
	t.Run("replayed jti", func(t *testing.T) {
		p := dpop(t, dk, dpopOpts{htu: credURL, token: at, iat: now})
		if s, out, _ := e.dpopCredential(at, []string{p}, keyProof()); s != 200 {
			t.Fatalf("first use: %d %v", s, out)
		}
		s, out, h := e.dpopCredential(at, []string{p}, keyProof())
		check(t, s, out, h, CodeInvalidDPoPProof)
	})
}

func TestDPoPNonce(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.DPoPNonce = true })
	w := newWallet(e, 1)
	dk, _ := keys.Generate(keys.EdDSA)
	_, code := e.newCode(false)
	now := e.clock.Now()
	s, out, h := e.dpopToken(code, dpop(t, dk, dpopOpts{htu: e.url + "/token", iat: now}))
	nonce := h.Get("DPoP-Nonce")
	if s != 400 || out["error"] != CodeUseDPoPNonce || nonce == "" {
		t.Fatalf("token without a nonce: %d %v nonce %q", s, out, nonce)
	}
	if s, out, _ := e.dpopToken(code, dpop(t, dk, dpopOpts{htu: e.url + "/token", iat: now, nonce: "forged"})); s != 400 || out["error"] != CodeUseDPoPNonce {
		t.Fatalf("forged nonce: %d %v", s, out)
	}
	s, tok, h := e.dpopToken(code, dpop(t, dk, dpopOpts{htu: e.url + "/token", iat: now, nonce: nonce}))
	if s != 200 || tok["token_type"] != "DPoP" || h.Get("DPoP-Nonce") == "" {
		t.Fatalf("token with the nonce: %d %v", s, tok)
	}
	at := tok["access_token"].(string)
	// The nonce expires: the resource asks for a new one.
	e.clock.Add(6 * time.Minute)
	now = e.clock.Now()
	s, out, h = e.dpopCredential(at, []string{dpop(t, dk, dpopOpts{htu: e.url + "/credential", token: at, iat: now, nonce: nonce})},
		proofJWT(t, w.keys[0], e.url, w.nonce(), now, nil))
	fresh := h.Get("DPoP-Nonce")
	if s != 401 || out["error"] != CodeUseDPoPNonce || fresh == "" || !strings.HasPrefix(h.Get("WWW-Authenticate"), `DPoP error="use_dpop_nonce"`) {
		t.Fatalf("expired nonce: %d %v %q %q", s, out, fresh, h.Get("WWW-Authenticate"))
	}
	s, out, _ = e.dpopCredential(at, []string{dpop(t, dk, dpopOpts{htu: e.url + "/credential", token: at, iat: now, nonce: fresh})},
		proofJWT(t, w.keys[0], e.url, w.nonce(), now, nil))
	if s != 200 {
		t.Fatalf("credential with a fresh nonce: %d %v", s, out)
	}
}

// Of many concurrent uses of one proof, one wins.
func TestDPoPReplayIsAtomic(t *testing.T) {
	e := newEnv(t)
	dk, _ := keys.Generate(keys.ES256)
	in := DPoPInput{Method: "POST", URL: e.url + "/token"}
	in.Proofs = []string{dpop(t, dk, dpopOpts{htu: in.URL, iat: e.clock.Now()})}
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := e.svc.checkDPoP(context.Background(), in, "", "", 400); err == nil {
				mu.Lock()
				ok++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if ok != 1 {
		t.Fatalf("%d accepted uses of one DPoP proof", ok)
	}
}

func TestNormalizeHTU(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		same bool
	}{
		{"https://issuer.example/token", "https://issuer.example/token", true},
		{"HTTPS://Issuer.Example/token", "https://issuer.example/token", true},
		{"https://issuer.example:443/token", "https://issuer.example/token", true},
		{"http://issuer.example:80/token", "http://issuer.example/token", true},
		{"https://issuer.example/token?a=b#c", "https://issuer.example/token", true},
		{"https://issuer.example", "https://issuer.example/", true},
		{"https://[::1]:8443/token", "https://[::1]:8443/token", true},
		{"https://issuer.example/Token", "https://issuer.example/token", false},
		{"http://issuer.example/token", "https://issuer.example/token", false},
		{"https://issuer.example:8443/token", "https://issuer.example/token", false},
		{"https://user@issuer.example/token", "https://issuer.example/token", false},
		{"/token", "/token", false},
		{"ftp://issuer.example/token", "ftp://issuer.example/token", false},
		{"", "", false},
	} {
		if got := sameHTU(tc.a, tc.b); got != tc.same {
			t.Errorf("sameHTU(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.same)
		}
	}
}
