package issuer

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/medid/medid/internal/httpx"
	"github.com/medid/medid/internal/keys"
	"github.com/medid/medid/internal/kv"
	"github.com/medid/medid/internal/kv/boltkv"
)

const admin = "issuer-admin-token-0123456789"

// echoMinter is a test credential format: a JSON object naming the holder
// key, with a fresh id per credential.
type echoMinter struct {
	mu sync.Mutex
	n  int
}

func (m *echoMinter) Mint(_ context.Context, r MintRequest) (*Minted, error) {
	m.mu.Lock()
	m.n++
	id := m.n
	m.mu.Unlock()
	tp, _ := keys.ThumbprintOf(r.Holder)
	b, _ := json.Marshal(map[string]any{"id": id, "holder": tp, "claims": r.Claims, "cfg": r.Configuration.ID})
	return &Minted{Credential: string(b), ID: string(rune('a' + id))}, nil
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

type env struct {
	t     *testing.T
	url   string
	store kv.Store
	clock *clock
	svc   *Service
}

func newEnv(t *testing.T, mods ...func(*Options)) *env {
	t.Helper()
	store, err := boltkv.Open(filepath.Join(t.TempDir(), "kv.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return newEnvOn(t, store, mods...)
}

// newEnvOn serves an issuer on store.
func newEnvOn(t *testing.T, store kv.Store, mods ...func(*Options)) *env {
	t.Helper()
	mk, _, _ := keys.LoadMasterKey(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32)), "")
	sealer, _ := keys.NewSealer(mk, "issuer")
	e := echo.New()
	e.HTTPErrorHandler = httpx.ErrorHandler(slog.New(slog.NewTextHandler(io.Discard, nil)))
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	c := &clock{t: time.Now()}
	opts := Options{
		CredentialIssuer: srv.URL,
		Configurations: []Configuration{
			{ID: "PatientIdentityCredential_dc+sd-jwt", Format: "dc+sd-jwt", VCT: srv.URL + "/vct/PatientIdentityCredential", SigningAlgs: []string{"ES256"}},
			{ID: "HealthConsentCredential_dc+sd-jwt", Format: "dc+sd-jwt", VCT: srv.URL + "/vct/HealthConsentCredential", SigningAlgs: []string{"ES256"}},
		},
		Minters: map[string]Minter{"PatientIdentityCredential_dc+sd-jwt": &echoMinter{}, "HealthConsentCredential_dc+sd-jwt": &echoMinter{}},
		Now:     c.Now,
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	for _, m := range mods {
		m(&opts)
	}
	svc, err := New(store, sealer, opts)
	if err != nil {
		t.Fatal(err)
	}
	svc.Register(e.Group(""), httpx.AdminAuth(admin), nil)
	return &env{t: t, url: srv.URL, store: store, clock: c, svc: svc}
}

func (e *env) do(method, path, ctype, body, token string) (int, map[string]any, http.Header) {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.url+path, strings.NewReader(body))
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
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

// offer creates an offer as the hospital's admin would.
func (e *env) offer(txCode bool, configs ...string) map[string]any {
	e.t.Helper()
	body, _ := json.Marshal(map[string]any{"credential_configuration_ids": configs,
		"claims": map[string]any{"given_name": "Ada", "family_name": "Lovelace-Secret"}, "tx_code": txCode})
	code, out, _ := e.do("POST", "/issuer/offers", "application/json", string(body), admin)
	if code != http.StatusCreated {
		e.t.Fatalf("create offer: %d %v", code, out)
	}
	return out
}

// wallet is written from the OpenID4VCI 1.0 spec: resolve the offer by
// reference, redeem the pre-authorized code, get a nonce, prove keys.
type wallet struct {
	e    *env
	keys []*keys.PrivateKey
}

func (w *wallet) fetchOffer(offerURI string) (issuer, code string, configs []string) {
	w.e.t.Helper()
	u, err := url.Parse(offerURI)
	if err != nil || u.Scheme != "openid-credential-offer" {
		w.e.t.Fatalf("offer_uri %q", offerURI)
	}
	ref := u.Query().Get("credential_offer_uri")
	resp, err := http.Get(ref)
	if err != nil {
		w.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var offer struct {
		Issuer  string   `json:"credential_issuer"`
		Configs []string `json:"credential_configuration_ids"`
		Grants  map[string]struct {
			Code   string         `json:"pre-authorized_code"`
			TxCode map[string]any `json:"tx_code"`
		} `json:"grants"`
	}
	if resp.StatusCode != 200 {
		w.e.t.Fatalf("offer by reference: %d", resp.StatusCode)
	}
	json.NewDecoder(resp.Body).Decode(&offer)
	return offer.Issuer, offer.Grants[GrantPreAuthorized].Code, offer.Configs
}

func (w *wallet) token(code, tx string) (int, map[string]any) {
	form := url.Values{"grant_type": {GrantPreAuthorized}, "pre-authorized_code": {code}}
	if tx != "" {
		form.Set("tx_code", tx)
	}
	c, out, _ := w.e.do("POST", "/token", "application/x-www-form-urlencoded", form.Encode(), "")
	return c, out
}

func (w *wallet) nonce() string {
	w.e.t.Helper()
	c, out, h := w.e.do("POST", "/nonce", "", "", "")
	if c != 200 || h.Get("Cache-Control") != "no-store" {
		w.e.t.Fatalf("nonce: %d %v", c, out)
	}
	return out["c_nonce"].(string)
}

func proofJWT(t *testing.T, k *keys.PrivateKey, aud, nonce string, iat time.Time, mutate func(h jws.Headers, claims map[string]any)) string {
	t.Helper()
	jwk, _ := k.PublicJWK()
	h := jws.NewHeaders()
	h.Set("typ", ProofType)
	h.Set("jwk", jwk)
	claims := map[string]any{"aud": aud, "iat": iat.Unix(), "nonce": nonce}
	if mutate != nil {
		mutate(h, claims)
	}
	payload, _ := json.Marshal(claims)
	alg := jwa.ES256()
	if k.Algorithm() == keys.EdDSA {
		alg = jwa.EdDSA()
	}
	out, err := jws.Sign(payload, jws.WithKey(alg, k.Signer(), jws.WithProtectedHeaders(h)))
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func (w *wallet) credential(token, config string, proofs ...string) (int, map[string]any, http.Header) {
	body, _ := json.Marshal(map[string]any{"credential_configuration_id": config, "proofs": map[string]any{"jwt": proofs}})
	return w.e.do("POST", "/credential", "application/json", string(body), token)
}

func newWallet(e *env, n int) *wallet {
	w := &wallet{e: e}
	for i := range n {
		alg := keys.ES256
		if i%2 == 1 {
			alg = keys.EdDSA
		}
		k, _ := keys.Generate(alg)
		w.keys = append(w.keys, k)
	}
	return w
}

func TestPreAuthorizedFlowWithBatch(t *testing.T) {
	e := newEnv(t)
	o := e.offer(true, "PatientIdentityCredential_dc+sd-jwt")
	w := newWallet(e, 2)
	iss, code, configs := w.fetchOffer(o["offer_uri"].(string))
	if iss != e.url || len(configs) != 1 || code == "" {
		t.Fatalf("offer: %s %v", iss, configs)
	}
	// The pending offer's claims are not stored in clear.
	e.store.List(context.Background(), "", func(k string, v []byte) error {
		if bytes.Contains(v, []byte("Lovelace-Secret")) {
			t.Errorf("claims in clear under %s", k)
		}
		return nil
	})
	status, tok := w.token(code, o["tx_code"].(string))
	if status != 200 || tok["token_type"] != "Bearer" {
		t.Fatalf("token: %d %v", status, tok)
	}
	// The offer is spent: by reference it is gone, and the code is too.
	resp, _ := http.Get(e.url + "/issuer/offers/" + o["id"].(string))
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("offer after redemption: %d", resp.StatusCode)
	}
	if s, out := w.token(code, o["tx_code"].(string)); s != 400 || out["error"] != CodeInvalidGrant {
		t.Fatalf("replayed code: %d %v", s, out)
	}
	at := tok["access_token"].(string)
	n := w.nonce()
	now := e.clock.Now()
	p1 := proofJWT(t, w.keys[0], e.url, n, now, nil)
	p2 := proofJWT(t, w.keys[1], e.url, n, now, nil)
	status, cred, _ := w.credential(at, configs[0], p1, p2)
	if status != 200 {
		t.Fatalf("credential: %d %v", status, cred)
	}
	creds := cred["credentials"].([]any)
	if len(creds) != 2 {
		t.Fatalf("batch: %v", cred)
	}
	holders := map[string]bool{}
	for _, c := range creds {
		var got map[string]any
		json.Unmarshal([]byte(c.(map[string]any)["credential"].(string)), &got)
		holders[got["holder"].(string)] = true
	}
	if !holders[w.keys[0].Thumbprint()] || !holders[w.keys[1].Thumbprint()] {
		t.Fatalf("credentials not bound to the proven keys: %v", holders)
	}
	// The nonce is single-use.
	status, out, _ := w.credential(at, configs[0], proofJWT(t, w.keys[0], e.url, n, now, nil))
	if status != 400 || out["error"] != CodeInvalidNonce {
		t.Fatalf("replayed nonce: %d %v", status, out)
	}
}

func TestWrongTxCodeBurnsTheOffer(t *testing.T) {
	e := newEnv(t)
	o := e.offer(true, "PatientIdentityCredential_dc+sd-jwt")
	w := newWallet(e, 1)
	_, code, _ := w.fetchOffer(o["offer_uri"].(string))
	if s, out := w.token(code, "000000x"); s != 400 || out["error"] != CodeInvalidGrant {
		t.Fatalf("wrong tx_code: %d %v", s, out)
	}
	if s, out := w.token(code, o["tx_code"].(string)); s != 400 || out["error"] != CodeInvalidGrant {
		t.Fatalf("right tx_code after a wrong guess: %d %v", s, out)
	}
}

// A missing tx_code is the client's mistake: refused without spending the
// offer, which still works with the right code.
func TestMissingTxCodeDoesNotSpendTheOffer(t *testing.T) {
	e := newEnv(t)
	o := e.offer(true, "PatientIdentityCredential_dc+sd-jwt")
	w := newWallet(e, 1)
	_, code, _ := w.fetchOffer(o["offer_uri"].(string))
	if s, out := w.token(code, ""); s != 400 || out["error"] != CodeInvalidRequest {
		t.Fatalf("missing tx_code: %d %v", s, out)
	}
	if s, out := w.token(code, o["tx_code"].(string)); s != 200 {
		t.Fatalf("right tx_code afterwards: %d %v", s, out)
	}
	o = e.offer(false, "PatientIdentityCredential_dc+sd-jwt")
	_, code, _ = w.fetchOffer(o["offer_uri"].(string))
	if s, out := w.token(code, "123456"); s != 400 || out["error"] != CodeInvalidRequest {
		t.Fatalf("tx_code for an offer without one: %d %v", s, out)
	}
	if s, _ := w.token(code, ""); s != 200 {
		t.Fatal("offer spent by a tx_code it did not have")
	}
}

func TestExpiredOffer(t *testing.T) {
	e := newEnv(t)
	o := e.offer(false, "PatientIdentityCredential_dc+sd-jwt")
	w := newWallet(e, 1)
	_, code, _ := w.fetchOffer(o["offer_uri"].(string))
	e.clock.Add(11 * time.Minute)
	if s, out := w.token(code, ""); s != 400 || out["error"] != CodeInvalidGrant {
		t.Fatalf("expired offer: %d %v", s, out)
	}
}

func TestConcurrentRedemptionYieldsOneToken(t *testing.T) {
	e := newEnv(t)
	o := e.offer(false, "PatientIdentityCredential_dc+sd-jwt")
	w := newWallet(e, 1)
	_, code, _ := w.fetchOffer(o["offer_uri"].(string))
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if s, _ := w.token(code, ""); s == 200 {
				mu.Lock()
				ok++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if ok != 1 {
		t.Fatalf("%d tokens from one pre-authorized code", ok)
	}
}

func TestCredentialRequestRefusals(t *testing.T) {
	e := newEnv(t)
	o := e.offer(false, "PatientIdentityCredential_dc+sd-jwt")
	w := newWallet(e, 2)
	_, code, configs := w.fetchOffer(o["offer_uri"].(string))
	_, tok := w.token(code, "")
	at := tok["access_token"].(string)
	now := e.clock.Now()
	cfg := configs[0]
	for _, tc := range []struct {
		name   string
		token  string
		config string
		proofs func() []string
		status int
		code   string
	}{
		{"no token", "", cfg, func() []string { return []string{proofJWT(t, w.keys[0], e.url, w.nonce(), now, nil)} }, 401, CodeInvalidToken},
		{"bad token", "nope", cfg, func() []string { return []string{proofJWT(t, w.keys[0], e.url, w.nonce(), now, nil)} }, 401, CodeInvalidToken},
		{"unknown configuration", at, "Nope", func() []string { return []string{proofJWT(t, w.keys[0], e.url, w.nonce(), now, nil)} }, 400, CodeUnknownConfiguration},
		{"not offered", at, "HealthConsentCredential_dc+sd-jwt", func() []string { return []string{proofJWT(t, w.keys[0], e.url, w.nonce(), now, nil)} }, 400, CodeCredentialRequestDenied},
		{"no proof", at, cfg, func() []string { return nil }, 400, CodeInvalidProof},
		{"wrong audience", at, cfg, func() []string { return []string{proofJWT(t, w.keys[0], "https://evil.example", w.nonce(), now, nil)} }, 400, CodeInvalidProof},
		{"stale iat", at, cfg, func() []string {
			return []string{proofJWT(t, w.keys[0], e.url, w.nonce(), now.Add(-10*time.Minute), nil)}
		}, 400, CodeInvalidProof},
		{"future iat", at, cfg, func() []string {
			return []string{proofJWT(t, w.keys[0], e.url, w.nonce(), now.Add(10*time.Minute), nil)}
		}, 400, CodeInvalidProof},
		{"unknown nonce", at, cfg, func() []string { return []string{proofJWT(t, w.keys[0], e.url, "made-up", now, nil)} }, 400, CodeInvalidNonce},
		{"no nonce", at, cfg, func() []string {
			return []string{proofJWT(t, w.keys[0], e.url, "", now, func(_ jws.Headers, c map[string]any) { delete(c, "nonce") })}
		}, 400, CodeInvalidNonce},
		{"wrong typ", at, cfg, func() []string {
			return []string{proofJWT(t, w.keys[0], e.url, w.nonce(), now, func(h jws.Headers, _ map[string]any) { h.Set("typ", "JWT") })}
		}, 400, CodeInvalidProof},
		{"private key in jwk", at, cfg, func() []string {
			// The wallet's real key, with its private scalar added.
			var jwk map[string]any
			j, _ := w.keys[0].PublicJWKJSON()
			json.Unmarshal(j, &jwk)
			der, _ := keys.ExportPKCS8(w.keys[0])
			jwk["d"] = base64.RawURLEncoding.EncodeToString(der[len(der)-32:])
			hdr, _ := json.Marshal(map[string]any{"alg": "ES256", "typ": ProofType, "jwk": jwk})
			return []string{rawSign(t, w.keys[0], hdr, map[string]any{"aud": e.url, "iat": now.Unix(), "nonce": w.nonce()})}
		}, 400, CodeInvalidProof},
		{"kid and jwk", at, cfg, func() []string {
			j, _ := w.keys[0].PublicJWKJSON()
			hdr, _ := json.Marshal(map[string]any{"alg": "ES256", "typ": ProofType, "jwk": json.RawMessage(j), "kid": "did:example:x#1"})
			return []string{rawSign(t, w.keys[0], hdr, map[string]any{"aud": e.url, "iat": now.Unix(), "nonce": w.nonce()})}
		}, 400, CodeInvalidProof},
		{"same key twice", at, cfg, func() []string {
			n := w.nonce()
			return []string{proofJWT(t, w.keys[0], e.url, n, now, nil), proofJWT(t, w.keys[0], e.url, n, now, nil)}
		}, 400, CodeInvalidProof},
		{"mixed nonces", at, cfg, func() []string {
			return []string{proofJWT(t, w.keys[0], e.url, w.nonce(), now, nil), proofJWT(t, w.keys[1], e.url, w.nonce(), now, nil)}
		}, 400, CodeInvalidNonce},
		{"alg none", at, cfg, func() []string {
			h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"openid4vci-proof+jwt"}`))
			p := base64.RawURLEncoding.EncodeToString([]byte(`{"aud":"x","iat":1,"nonce":"n"}`))
			return []string{h + "." + p + "."}
		}, 400, CodeInvalidProof},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, out, h := w.credential(tc.token, tc.config, tc.proofs()...)
			if status != tc.status || out["error"] != tc.code {
				t.Fatalf("status %d error %v, want %d %s (%v)", status, out["error"], tc.status, tc.code, out["error_description"])
			}
			switch {
			case status == 401 && tc.token != "" && !strings.Contains(h.Get("WWW-Authenticate"), `error="invalid_token"`):
				t.Fatalf("401 for a bad token without the error code: %q", h.Get("WWW-Authenticate"))
			case status == 401 && tc.token == "" && (h.Get("WWW-Authenticate") == "" || strings.Contains(h.Get("WWW-Authenticate"), "error=")):
				t.Fatalf("401 without a token must challenge without an error code (RFC 6750 §3.1): %q", h.Get("WWW-Authenticate"))
			}
		})
	}
}

func TestTokenEndpointInput(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		ctype, body, code string
	}{
		{"application/json", `{"grant_type":"x"}`, CodeInvalidRequest},
		{"application/x-www-form-urlencoded", "grant_type=authorization_code", CodeUnsupportedGrantType},
		{"application/x-www-form-urlencoded", "grant_type=" + url.QueryEscape(GrantPreAuthorized), CodeInvalidRequest},
		{"application/x-www-form-urlencoded", "grant_type=" + url.QueryEscape(GrantPreAuthorized) + "&pre-authorized_code=nope", CodeInvalidGrant},
	} {
		s, out, _ := e.do("POST", "/token", tc.ctype, tc.body, "")
		if s != 400 || out["error"] != tc.code {
			t.Errorf("%s %q: %d %v, want %s", tc.ctype, tc.body, s, out, tc.code)
		}
	}
}

func TestOfferAdminAndMetadata(t *testing.T) {
	e := newEnv(t)
	if s, _, _ := e.do("POST", "/issuer/offers", "application/json", `{}`, ""); s != 401 {
		t.Fatalf("offer without admin token: %d", s)
	}
	s, out, _ := e.do("POST", "/issuer/offers", "application/json", `{"credential_configuration_ids":["Nope"],"claims":{}}`, admin)
	if s != 400 || out["field"] != "credential_configuration_ids[0]" {
		t.Fatalf("unknown configuration: %d %v", s, out)
	}
	s, md, _ := e.do("GET", "/.well-known/openid-credential-issuer", "", "", "")
	if s != 200 || md["credential_issuer"] != e.url || md["nonce_endpoint"] != e.url+"/nonce" {
		t.Fatalf("metadata: %v", md)
	}
	cfgs := md["credential_configurations_supported"].(map[string]any)
	pic := cfgs["PatientIdentityCredential_dc+sd-jwt"].(map[string]any)
	if pic["format"] != "dc+sd-jwt" || pic["vct"] == nil {
		t.Fatalf("configuration metadata: %v", pic)
	}
	s, as, _ := e.do("GET", "/.well-known/oauth-authorization-server", "", "", "")
	if s != 200 || as["token_endpoint"] != e.url+"/token" {
		t.Fatalf("AS metadata: %v", as)
	}
}

// rawSign signs a JWS with an exact protected header (ES256 keys only).
func rawSign(t *testing.T, k *keys.PrivateKey, hdr []byte, claims map[string]any) string {
	t.Helper()
	payload, _ := json.Marshal(claims)
	input := base64.RawURLEncoding.EncodeToString(hdr) + "." + base64.RawURLEncoding.EncodeToString(payload)
	sum := sha256.Sum256([]byte(input))
	r, ss, err := ecdsa.Sign(rand.Reader, k.Signer().(*ecdsa.PrivateKey), sum[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	ss.FillBytes(sig[32:])
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}
