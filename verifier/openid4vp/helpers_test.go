package openid4vp_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
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
	"github.com/lestrrat-go/jwx/v3/jwe"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/medid/medid/credentials/health"
	"github.com/medid/medid/credentials/sdjwt"
	"github.com/medid/medid/internal/httpx"
	"github.com/medid/medid/internal/keys"
	"github.com/medid/medid/internal/kv/boltkv"
	"github.com/medid/medid/verifier/openid4vp"
)

const (
	baseURL     = "https://verifier.example"
	verifierDID = "did:medid:verifier123"
	adminToken  = "test-admin-token-0123456789"
	redirectURI = "https://app.example/done"
)

// clock is an injectable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// sdjwtVerifier is a real PresentationVerifier for the tests: it verifies
// an SD-JWT VC with Key Binding against one trusted issuer key.
type sdjwtVerifier struct {
	issuer crypto.PublicKey
	now    func() time.Time
}

func (v sdjwtVerifier) VerifyPresentation(ctx context.Context, format string, p json.RawMessage, nonce, aud string) (*openid4vp.VerifiedPresentation, error) {
	if format != "dc+sd-jwt" {
		return nil, fmt.Errorf("format %q is not supported", format)
	}
	var s string
	if err := json.Unmarshal(p, &s); err != nil {
		return nil, errors.New("a dc+sd-jwt presentation is a string")
	}
	ver, err := sdjwt.Verify(ctx, s, sdjwt.VerifyOptions{
		IssuerKey:   func(context.Context, string, sdjwt.Header) (crypto.PublicKey, error) { return v.issuer, nil },
		ExpectedTyp: sdjwt.TypVC, Now: v.now, RequireKeyBinding: true, Nonce: nonce, Audience: aud,
	})
	if err != nil {
		return nil, err
	}
	iss, _ := ver.Claims["iss"].(string)
	return &openid4vp.VerifiedPresentation{Format: format, Issuer: iss, Claims: ver.Claims, HolderBinding: ver.KeyBound,
		Checks: []openid4vp.Check{{Name: "signature", Passed: true}, {Name: "holder_binding", Passed: true}}}, nil
}

// rewrite sends every request to the test server, whatever its host, so
// that the verifier can live at https://verifier.example.
type rewrite struct{ target *url.URL }

func (r rewrite) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.URL.Scheme, req.URL.Host = r.target.Scheme, r.target.Host
	return http.DefaultTransport.RoundTrip(req)
}

type fixture struct {
	t         *testing.T
	clock     *clock
	svc       *openid4vp.Service
	srv       *httptest.Server
	client    *http.Client
	signKey   *keys.PrivateKey // the verifier DID's key
	issuer    *keys.PrivateKey // the trusted credential issuer
	holder    *keys.PrivateKey
	cred      string // the holder's SD-JWT VC
	x509Roots *x509.CertPool
}

type fixtureOpts struct {
	webhookSecret []byte
	x509          bool
}

func newFixture(t *testing.T, fo fixtureOpts) *fixture {
	t.Helper()
	f := &fixture{t: t, clock: &clock{t: time.Now().Truncate(time.Second)}}
	store, err := boltkv.Open(filepath.Join(t.TempDir(), "kv.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	mk, _, err := keys.LoadMasterKey(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)), "")
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := keys.NewSealer(mk, "verifier sessions")
	if err != nil {
		t.Fatal(err)
	}
	f.signKey = mustKey(t, keys.ES256)
	f.issuer = mustKey(t, keys.ES256)
	f.holder = mustKey(t, keys.EdDSA)
	f.cred = f.issueCredential(f.issuer)
	opts := openid4vp.Options{
		BaseURL: baseURL, ClientName: "Clinic Example", DID: verifierDID,
		Signer:           openid4vp.KeySigner{Key: f.signKey, KID: "#key-1"},
		AllowRedirectURI: true,
		Verifier:         sdjwtVerifier{issuer: f.issuer.Public(), now: f.clock.Now},
		Queries:          openid4vp.DCQL{IssuerBaseURL: "https://issuer.example"},
		VerifierInfo:     []openid4vp.VerifierInfo{{Format: "dc+sd-jwt", Data: json.RawMessage(`"eyJ-organization-credential"`)}},
		RedirectURI:      redirectURI,
		WebhookSecret:    fo.webhookSecret, AllowInsecureWebhooks: true,
		PollInterval: 50 * time.Millisecond,
		Now:          f.clock.Now,
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if fo.x509 {
		chain, key, roots := testCertificates(t, "verifier.example")
		x, err := openid4vp.NewX509Signer(chain, key, "")
		if err != nil {
			t.Fatal(err)
		}
		opts.X509, f.x509Roots = x, roots
	}
	f.svc, err = openid4vp.New(store, sealer, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.svc.Close)
	e := echo.New()
	e.HTTPErrorHandler = httpx.ErrorHandler(slog.New(slog.NewTextHandler(io.Discard, nil)))
	f.svc.Register(e.Group(""), httpx.AdminAuth(adminToken))
	f.srv = httptest.NewServer(e)
	t.Cleanup(f.srv.Close)
	u, _ := url.Parse(f.srv.URL)
	f.client = &http.Client{Transport: rewrite{u}, Timeout: 10 * time.Second}
	return f
}

func mustKey(t *testing.T, alg keys.Algorithm) *keys.PrivateKey {
	t.Helper()
	k, err := keys.Generate(alg)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// issueCredential issues a PatientIdentityCredential to the holder.
func (f *fixture) issueCredential(issuer *keys.PrivateKey) string {
	t, _ := health.LookupType(health.TypePatientIdentity)
	iss, err := sdjwt.IssueVC(sdjwt.VCClaims{
		VCT: t.VCT("https://issuer.example"), Issuer: "did:medid:issuer", IssuedAt: f.clock.Now().Add(-time.Hour),
		Expires: f.clock.Now().Add(24 * time.Hour), Holder: f.holder.Public(),
		Claims: map[string]any{"given_name": "Ada", "family_name": "Lovelace", "birthdate": "1815-12-10", "gender": "female"},
	}, sdjwt.Policy{}, sdjwt.IssueOptions{Key: issuer})
	if err != nil {
		f.t.Fatal(err)
	}
	return iss.Compact()
}

// do sends a request to the verifier and returns the status and body.
func (f *fixture) do(method, path, ctype, auth string, body []byte) (int, []byte, http.Header) {
	f.t.Helper()
	req, err := http.NewRequest(method, baseURL+path, bytes.NewReader(body))
	if err != nil {
		f.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if auth != "" {
		req.Header.Set("Authorization", "Bearer "+auth)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header
}

// createSession POSTs /verifier/sessions and decodes the 201.
func (f *fixture) createSession(body map[string]any) *openid4vp.Session {
	f.t.Helper()
	b, _ := json.Marshal(body)
	code, out, _ := f.do("POST", "/verifier/sessions", "application/json", adminToken, b)
	if code != http.StatusCreated {
		f.t.Fatalf("create session: %d %s", code, out)
	}
	var s openid4vp.Session
	if err := json.Unmarshal(out, &s); err != nil {
		f.t.Fatal(err)
	}
	return &s
}

func (f *fixture) status(id string) *openid4vp.Status {
	f.t.Helper()
	code, out, _ := f.do("GET", "/verifier/sessions/"+id, "", adminToken, nil)
	if code != http.StatusOK {
		f.t.Fatalf("status: %d %s", code, out)
	}
	var st openid4vp.Status
	if err := json.Unmarshal(out, &st); err != nil {
		f.t.Fatal(err)
	}
	return &st
}

// wallet is a minimal OpenID4VP 1.0 wallet written from the spec.
type wallet struct {
	f *fixture
	// postRequestURI makes the wallet use request_uri_method=post with
	// this wallet_nonce when the request allows it.
	walletNonce string
}

// authzRequest is a request the wallet has fetched and checked.
type authzRequest struct {
	ClientID string
	Params   map[string]any
}

func (r *authzRequest) str(k string) string { s, _ := r.Params[k].(string); return s }

// fetch resolves an openid4vp:// link: by reference (it fetches and
// verifies the request object) or by value (redirect_uri prefix).
func (w *wallet) fetch(link string) (*authzRequest, error) {
	u, err := url.Parse(link)
	if err != nil || u.Scheme != "openid4vp" {
		return nil, fmt.Errorf("not an openid4vp link: %q", link)
	}
	q := u.Query()
	clientID := q.Get("client_id")
	ru := q.Get("request_uri")
	if ru == "" {
		if !strings.HasPrefix(clientID, "redirect_uri:") {
			return nil, errors.New("an unsigned request must use the redirect_uri prefix")
		}
		p := map[string]any{}
		for k := range q {
			v := q.Get(k)
			if k == "dcql_query" || k == "client_metadata" {
				var o any
				if err := json.Unmarshal([]byte(v), &o); err != nil {
					return nil, err
				}
				p[k] = o
				continue
			}
			p[k] = v
		}
		r := &authzRequest{ClientID: clientID, Params: p}
		if strings.TrimPrefix(clientID, "redirect_uri:") != r.str("response_uri") {
			return nil, errors.New("redirect_uri client_id does not match response_uri")
		}
		return r, nil
	}
	var resp *http.Response
	if q.Get("request_uri_method") == "post" && w.walletNonce != "" {
		form := url.Values{"wallet_nonce": {w.walletNonce},
			"wallet_metadata": {`{"vp_formats_supported":{"dc+sd-jwt":{"sd-jwt_alg_values":["ES256"],"kb-jwt_alg_values":["Ed25519"]}}}`}}
		req, _ := http.NewRequest("POST", ru, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", openid4vp.ContentTypeRequestObject)
		resp, err = w.f.client.Do(req)
	} else {
		resp, err = w.f.client.Get(ru)
	}
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("request_uri: %d %s", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != openid4vp.ContentTypeRequestObject {
		return nil, fmt.Errorf("request_uri content type %q", ct)
	}
	payload, err := w.verifyRequestObject(string(body), clientID)
	if err != nil {
		return nil, err
	}
	var p map[string]any
	if err := json.Unmarshal(payload, &p); err != nil {
		return nil, err
	}
	r := &authzRequest{ClientID: clientID, Params: p}
	switch {
	case r.str("client_id") != clientID:
		return nil, errors.New("client_id of the request object differs from the link's")
	case r.str("aud") != openid4vp.AudienceSelfIssued:
		return nil, fmt.Errorf("aud %q", r.str("aud"))
	case r.str("response_type") != "vp_token":
		return nil, errors.New("response_type is not vp_token")
	case r.str("nonce") == "":
		return nil, errors.New("no nonce")
	case q.Get("request_uri_method") == "post" && w.walletNonce != "" && r.str("wallet_nonce") != w.walletNonce:
		return nil, errors.New("wallet_nonce not echoed")
	}
	return r, nil
}

// verifyRequestObject checks a signed request object as section 5 and the
// client_id prefix require, with the verifier's key given directly (a real
// wallet resolves the DID).
func (w *wallet) verifyRequestObject(jwt, clientID string) ([]byte, error) {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return nil, errors.New("not a compact JWS")
	}
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return nil, err
	}
	var h struct {
		Alg, Typ, Kid string
		X5c           []string `json:"x5c"`
	}
	if err := json.Unmarshal(hb, &h); err != nil {
		return nil, err
	}
	if h.Typ != openid4vp.TypRequestObject {
		return nil, fmt.Errorf("typ %q", h.Typ)
	}
	if h.Alg != "ES256" { // the allowlist, before jws.Verify
		return nil, fmt.Errorf("alg %q", h.Alg)
	}
	var pub crypto.PublicKey
	prefix, id, _ := strings.Cut(clientID, ":")
	switch prefix {
	case "decentralized_identifier":
		if h.Kid != id+"#key-1" {
			return nil, fmt.Errorf("kid %q is not a verification method of %s", h.Kid, id)
		}
		pub = w.f.signKey.Public()
	case "x509_san_dns":
		if len(h.X5c) == 0 {
			return nil, errors.New("no x5c")
		}
		var certs []*x509.Certificate
		for _, c := range h.X5c {
			der, err := base64.StdEncoding.DecodeString(c)
			if err != nil {
				return nil, err
			}
			cert, err := x509.ParseCertificate(der)
			if err != nil {
				return nil, err
			}
			certs = append(certs, cert)
		}
		inter := x509.NewCertPool()
		for _, c := range certs[1:] {
			inter.AddCert(c)
		}
		if _, err := certs[0].Verify(x509.VerifyOptions{DNSName: id, Roots: w.f.x509Roots, Intermediates: inter,
			CurrentTime: w.f.clock.Now()}); err != nil {
			return nil, err
		}
		pub = certs[0].PublicKey
	default:
		return nil, fmt.Errorf("unsupported prefix %q", prefix)
	}
	return jws.Verify([]byte(jwt), jws.WithKey(jwa.ES256(), pub))
}

// present makes the vp_token for the request's first credential query,
// disclosing the requested claims, with a Key Binding JWT for nonce and
// client_id.
func (w *wallet) present(r *authzRequest, cred string) map[string][]string {
	w.f.t.Helper()
	q := r.Params["dcql_query"].(map[string]any)
	cq := q["credentials"].([]any)[0].(map[string]any)
	var paths [][]any
	for _, c := range cq["claims"].([]any) {
		paths = append(paths, c.(map[string]any)["path"].([]any))
	}
	p, err := sdjwt.Present(cred, sdjwt.DisclosePaths(paths...), &sdjwt.KeyBindingOptions{
		Key: w.f.holder, Nonce: r.str("nonce"), Audience: r.ClientID, IssuedAt: w.f.clock.Now()})
	if err != nil {
		w.f.t.Fatal(err)
	}
	return map[string][]string{cq["id"].(string): {p}}
}

// post sends form to the response_uri and returns the status and body.
func (w *wallet) post(r *authzRequest, form url.Values) (int, map[string]any) {
	w.f.t.Helper()
	resp, err := w.f.client.Post(r.str("response_uri"), "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		w.f.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &out); err != nil {
		w.f.t.Fatalf("response_uri answered %d with non-JSON %q", resp.StatusCode, b)
	}
	return resp.StatusCode, out
}

func directPostForm(vp map[string][]string, state string) url.Values {
	b, _ := json.Marshal(vp)
	return url.Values{"vp_token": {string(b)}, "state": {state}}
}

// encryptedForm encrypts the response to the request's key (or to key
// with kid, when key is not nil), as direct_post.jwt requires.
func (w *wallet) encryptedForm(r *authzRequest, payload map[string]any, key any, kid string) url.Values {
	w.f.t.Helper()
	if key == nil {
		meta := r.Params["client_metadata"].(map[string]any)
		jwks, _ := json.Marshal(meta["jwks"])
		set, err := jwk.Parse(jwks)
		if err != nil {
			w.f.t.Fatal(err)
		}
		k, _ := set.Key(0)
		if alg, _ := k.Algorithm(); alg.String() != "ECDH-ES" {
			w.f.t.Fatalf("encryption key alg %v", alg)
		}
		kid, _ = k.KeyID()
		key = k
	}
	h := jwe.NewHeaders()
	_ = h.Set("kid", kid)
	b, _ := json.Marshal(payload)
	enc, err := jwe.Encrypt(b, jwe.WithKey(jwa.ECDH_ES(), key), jwe.WithContentEncryption(jwa.A128GCM()), jwe.WithProtectedHeaders(h))
	if err != nil {
		w.f.t.Fatal(err)
	}
	return url.Values{"response": {string(enc)}}
}

// testCertificates makes a root and a leaf for dnsName; it returns the PEM
// chain (leaf, root), the leaf's PEM key and a pool with the root.
func testCertificates(t *testing.T, dnsName string) (chain, key []byte, roots *x509.CertPool) {
	t.Helper()
	rootKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leafKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	root := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test Root"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	rootDER, err := x509.CreateCertificate(rand.Reader, root, root, &rootKey.PublicKey, rootKey)
	if err != nil {
		t.Fatal(err)
	}
	rootCert, _ := x509.ParseCertificate(rootDER)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: dnsName}, DNSNames: []string{dnsName},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, rootCert, &leafKey.PublicKey, rootKey)
	if err != nil {
		t.Fatal(err)
	}
	chain = append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rootDER})...)
	pk, _ := x509.MarshalPKCS8PrivateKey(leafKey)
	key = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk})
	roots = x509.NewCertPool()
	roots.AddCert(rootCert)
	return chain, key, roots
}
