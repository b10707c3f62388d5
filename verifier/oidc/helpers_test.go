package oidc_test

import (
	"bytes"
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/medid/medid/credentials/health"
	"github.com/medid/medid/credentials/sdjwt"
	"github.com/medid/medid/internal/httpx"
	"github.com/medid/medid/internal/keys"
	"github.com/medid/medid/internal/kv"
	"github.com/medid/medid/internal/kv/boltkv"
	"github.com/medid/medid/verifier/oidc"
	"github.com/medid/medid/verifier/openid4vp"
)

const (
	verifierDID = "did:medid:verifier123"
	adminToken  = "test-admin-token-0123456789"
	issuerBase  = "https://issuer.example"
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

// sdjwtVerifier is a real openid4vp.PresentationVerifier: it verifies an
// SD-JWT VC with Key Binding against one trusted issuer key (as in
// verifier/openid4vp's tests).
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
	return &openid4vp.VerifiedPresentation{Format: format, Issuer: iss, Claims: ver.Claims, HolderBinding: ver.KeyBound}, nil
}

type fixture struct {
	t        *testing.T
	clock    *clock
	srv      *httptest.Server
	base     string
	provider *oidc.Provider
	signKey  *keys.PrivateKey // the verifier DID's key (request objects)
	oidcKey  *keys.PrivateKey // the ID token key
	issuer   *keys.PrivateKey // the trusted credential issuer
}

// newFixture runs the verifier over a bbolt store in t.TempDir(); mod
// changes the provider's options.
func newFixture(t *testing.T, mod ...func(*oidc.Options)) *fixture {
	t.Helper()
	store, err := boltkv.Open(filepath.Join(t.TempDir(), "kv.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return newFixtureOn(t, store, mod...)
}

func newFixtureOn(t *testing.T, store kv.Store, mod ...func(*oidc.Options)) *fixture {
	t.Helper()
	f := &fixture{t: t, clock: &clock{t: time.Now().Truncate(time.Second)}}
	mk, _, err := keys.LoadMasterKey(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)), "")
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := keys.NewSealer(mk, "verifier sessions")
	if err != nil {
		t.Fatal(err)
	}
	f.signKey, f.oidcKey, f.issuer = mustKey(t, keys.ES256), mustKey(t, keys.ES256), mustKey(t, keys.ES256)

	// The server's URL is needed before it starts: go-oidc requires the
	// issuer to be the URL discovery is fetched from.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.base = "http://" + ln.Addr().String()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	vp, err := openid4vp.New(store, sealer, openid4vp.Options{
		BaseURL: f.base, ClientName: "medid", DID: verifierDID,
		Signer:   openid4vp.KeySigner{Key: f.signKey, KID: "#key-1"},
		Verifier: sdjwtVerifier{issuer: f.issuer.Public(), now: f.clock.Now},
		Queries:  openid4vp.DCQL{IssuerBaseURL: issuerBase},
		Now:      f.clock.Now, Logger: logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(vp.Close)
	opts := oidc.Options{
		BaseURL: f.base, SigningKey: f.oidcKey, KeyID: "oidc-1",
		PairwiseSecret: bytes.Repeat([]byte{9}, 32),
		Presentations:  oidc.OpenID4VP{Sessions: vp},
		Now:            f.clock.Now, Logger: logger,
	}
	for _, m := range mod {
		m(&opts)
	}
	f.provider, err = oidc.New(store, sealer, opts)
	if err != nil {
		t.Fatal(err)
	}
	e := echo.New()
	e.HTTPErrorHandler = httpx.ErrorHandler(logger)
	g := e.Group("")
	vp.Register(g, httpx.AdminAuth(adminToken))
	f.provider.Register(g, httpx.AdminAuth(adminToken))
	f.srv = httptest.NewUnstartedServer(e)
	f.srv.Listener.Close()
	f.srv.Listener = ln
	f.srv.Start()
	t.Cleanup(f.srv.Close)
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

// do sends a request and returns the status, body and headers.
func (f *fixture) do(method, path, ctype, auth string, body []byte) (int, []byte, http.Header) {
	f.t.Helper()
	req, err := http.NewRequest(method, f.base+path, bytes.NewReader(body))
	if err != nil {
		f.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header
}

// register registers a client through the admin API.
func (f *fixture) register(req map[string]any) *oidc.RegisteredClient {
	f.t.Helper()
	b, _ := json.Marshal(req)
	code, out, _ := f.do("POST", "/oidc/clients", "application/json", "Bearer "+adminToken, b)
	if code != http.StatusCreated {
		f.t.Fatalf("register client: %d %s", code, out)
	}
	var rc oidc.RegisteredClient
	if err := json.Unmarshal(out, &rc); err != nil {
		f.t.Fatal(err)
	}
	return &rc
}

// patient is a holder with a PatientIdentityCredential.
type patient struct {
	key  *keys.PrivateKey
	cred string
}

func (f *fixture) newPatient(claims map[string]any) *patient {
	f.t.Helper()
	p := &patient{key: mustKey(f.t, keys.EdDSA)}
	if claims == nil {
		claims = map[string]any{"given_name": "Ada", "family_name": "Lovelace", "birthdate": "1815-12-10", "gender": "female"}
	}
	typ, _ := health.LookupType(health.TypePatientIdentity)
	iss, err := sdjwt.IssueVC(sdjwt.VCClaims{
		VCT: typ.VCT(issuerBase), Issuer: "did:medid:issuer", IssuedAt: f.clock.Now().Add(-time.Hour),
		Expires: f.clock.Now().Add(24 * time.Hour), Holder: p.key.Public(), Claims: claims,
	}, sdjwt.Policy{}, sdjwt.IssueOptions{Key: f.issuer})
	if err != nil {
		f.t.Fatal(err)
	}
	p.cred = iss.Compact()
	return p
}

// browser is a user agent with its own cookies that does not follow
// redirects, so the test sees each one.
type browser struct {
	f      *fixture
	client *http.Client
}

func (f *fixture) newBrowser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{f: f, client: &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browser) get(u string) (*http.Response, []byte) {
	b.f.t.Helper()
	resp, err := b.client.Get(u)
	if err != nil {
		b.f.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

// loginPage is what the test reads off the authorize page.
type loginPage struct {
	Link, QRCode, StatusURL, CompleteURL string
	Header                               http.Header
}

var (
	reLink     = regexp.MustCompile(`id="same-device" href="([^"]+)"`)
	reQR       = regexp.MustCompile(`id="qr" src="([^"]+)"`)
	reStatus   = regexp.MustCompile(`data-status="([^"]+)"`)
	reComplete = regexp.MustCompile(`data-complete="([^"]+)"`)
)

// open loads the authorize URL and parses the page.
func (b *browser) open(authURL string) *loginPage {
	b.f.t.Helper()
	resp, body := b.get(authURL)
	if resp.StatusCode != http.StatusOK {
		b.f.t.Fatalf("authorize: %d %s (Location %q)", resp.StatusCode, body, resp.Header.Get("Location"))
	}
	find := func(re *regexp.Regexp) string {
		m := re.FindSubmatch(body)
		if m == nil {
			b.f.t.Fatalf("authorize page lacks %v:\n%s", re, body)
		}
		return html.UnescapeString(string(m[1]))
	}
	return &loginPage{Link: find(reLink), QRCode: find(reQR), StatusURL: find(reStatus), CompleteURL: find(reComplete), Header: resp.Header}
}

func (b *browser) status(p *loginPage) (int, string) {
	b.f.t.Helper()
	resp, body := b.get(p.StatusURL)
	var out struct{ Status string }
	_ = json.Unmarshal(body, &out)
	return resp.StatusCode, out.Status
}

// complete follows the page to /complete and returns the redirect.
func (b *browser) complete(p *loginPage) (*http.Response, []byte) {
	b.f.t.Helper()
	return b.get(p.CompleteURL)
}

// wallet answers an openid4vp:// link as a wallet would: it fetches and
// verifies the signed request object, then posts a vp_token disclosing
// disclose (nil: every claim the query names) with a Key Binding JWT.
func (f *fixture) wallet(link string, p *patient, disclose []string) (int, []byte) {
	f.t.Helper()
	u, err := url.Parse(link)
	if err != nil || u.Scheme != "openid4vp" {
		f.t.Fatalf("not an openid4vp link: %q", link)
	}
	clientID, ru := u.Query().Get("client_id"), u.Query().Get("request_uri")
	resp, err := http.Get(ru)
	if err != nil {
		f.t.Fatal(err)
	}
	jwt, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != openid4vp.ContentTypeRequestObject {
		f.t.Fatalf("request_uri: %d %s", resp.StatusCode, jwt)
	}
	hdr, _, _ := strings.Cut(string(jwt), ".")
	hb, _ := base64.RawURLEncoding.DecodeString(hdr)
	var h struct{ Alg, Typ, Kid string }
	_ = json.Unmarshal(hb, &h)
	if h.Alg != "ES256" || h.Typ != openid4vp.TypRequestObject || h.Kid != verifierDID+"#key-1" { // allowlist before jws.Verify
		f.t.Fatalf("request object header %+v", h)
	}
	payload, err := jws.Verify(jwt, jws.WithKey(jwa.ES256(), f.signKey.Public()))
	if err != nil {
		f.t.Fatal(err)
	}
	var req struct {
		ClientID    string `json:"client_id"`
		Nonce       string `json:"nonce"`
		State       string `json:"state"`
		ResponseURI string `json:"response_uri"`
		DCQL        struct {
			Credentials []struct {
				ID     string `json:"id"`
				Claims []struct {
					Path []any `json:"path"`
				} `json:"claims"`
			} `json:"credentials"`
		} `json:"dcql_query"`
	}
	if err := json.Unmarshal(payload, &req); err != nil {
		f.t.Fatal(err)
	}
	if req.ClientID != clientID || req.Nonce == "" {
		f.t.Fatalf("request object %s", payload)
	}
	cq := req.DCQL.Credentials[0]
	var paths [][]any
	for _, c := range cq.Claims {
		name, _ := c.Path[0].(string)
		if disclose == nil || containsStr(disclose, name) {
			paths = append(paths, c.Path)
		}
	}
	pres, err := sdjwt.Present(p.cred, sdjwt.DisclosePaths(paths...), &sdjwt.KeyBindingOptions{
		Key: p.key, Nonce: req.Nonce, Audience: clientID, IssuedAt: f.clock.Now()})
	if err != nil {
		f.t.Fatal(err)
	}
	vp, _ := json.Marshal(map[string][]string{cq.ID: {pres}})
	return f.walletPost(req.ResponseURI, url.Values{"vp_token": {string(vp)}, "state": {req.State}})
}

// walletRefuse answers link with error=access_denied.
func (f *fixture) walletRefuse(link string) (int, []byte) {
	f.t.Helper()
	u, _ := url.Parse(link)
	resp, err := http.Get(u.Query().Get("request_uri"))
	if err != nil {
		f.t.Fatal(err)
	}
	jwt, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	payload, err := jws.Verify(jwt, jws.WithKey(jwa.ES256(), f.signKey.Public()))
	if err != nil {
		f.t.Fatal(err)
	}
	var req struct {
		State, ResponseURI string `json:"-"`
	}
	var m map[string]any
	_ = json.Unmarshal(payload, &m)
	req.State, _ = m["state"].(string)
	req.ResponseURI, _ = m["response_uri"].(string)
	return f.walletPost(req.ResponseURI, url.Values{"error": {"access_denied"}, "state": {req.State}})
}

func (f *fixture) walletPost(responseURI string, form url.Values) (int, []byte) {
	f.t.Helper()
	resp, err := http.Post(responseURI, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func containsStr(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
