package access_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/medid/medid/credentials/sdjwt"
	"github.com/medid/medid/did"
	"github.com/medid/medid/did/didkey"
	"github.com/medid/medid/internal/httpx"
	"github.com/medid/medid/internal/keys"
	"github.com/medid/medid/internal/kv/boltkv"
	"github.com/medid/medid/internal/ledger"
	"github.com/medid/medid/verifier/access"
	"github.com/medid/medid/verifier/audit"
)

const (
	adminToken = "test-admin-token-0123456789"
	audience   = "decentralized_identifier:did:medid:verifier"
	issuerDID  = "did:example:issuer"
	statusURI  = "https://issuer.example/status/1"
	vct        = "https://issuer.example/vct/HealthConsentCredential"
	patientDID = "did:example:patient"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// statusList is a real, simple status list: index → status.
type statusList struct {
	mu sync.Mutex
	m  map[int]string // "revoked", "suspended"; missing means valid
}

func (l *statusList) set(i int, s string) { l.mu.Lock(); l.m[i] = s; l.mu.Unlock() }
func (l *statusList) get(i int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.m[i]
}

// sdjwtVerifier is a real PresentationVerifier for the tests: it verifies
// an SD-JWT VC with a Key Binding JWT against one issuer key through
// credentials/sdjwt, and looks the status up in a statusList, reporting
// the checks as the verification core does.
type sdjwtVerifier struct {
	issuer crypto.PublicKey
	status *statusList
	now    func() time.Time
}

func (v *sdjwtVerifier) VerifyPresentation(ctx context.Context, format string, p json.RawMessage, nonce, aud string) ([]access.Presented, error) {
	if format != "" && format != "dc+sd-jwt" {
		return nil, fmt.Errorf("%w: format %q", access.ErrMalformedPresentation, format)
	}
	var s string
	if err := json.Unmarshal(p, &s); err != nil || !bytes.Contains([]byte(s), []byte("~")) {
		return nil, fmt.Errorf("%w: not an SD-JWT", access.ErrMalformedPresentation)
	}
	ver, err := sdjwt.Verify(ctx, s, sdjwt.VerifyOptions{
		IssuerKey:   func(context.Context, string, sdjwt.Header) (crypto.PublicKey, error) { return v.issuer, nil },
		ExpectedTyp: sdjwt.TypVC, Now: v.now, RequireKeyBinding: true, Nonce: nonce, Audience: aud,
	})
	if err != nil {
		name := "signature"
		if errors.Is(err, sdjwt.ErrKeyBinding) {
			name = "holder_binding"
		}
		return nil, &access.VerificationError{Checks: []access.Check{{Name: name, Detail: err.Error()}}}
	}
	checks := []access.Check{{Name: "signature", Passed: true}, {Name: "validity", Passed: true}}
	st, _ := ver.Claims["status"].(map[string]any)
	sl, _ := st["status_list"].(map[string]any)
	if idx, ok := sl["idx"].(json.Number); ok {
		i, _ := strconv.Atoi(string(idx))
		if bad := v.status.get(i); bad != "" {
			checks = append(checks, access.Check{Name: "status", Detail: "the credential is " + bad},
				access.Check{Name: "schema", Passed: true}, access.Check{Name: "issuer_trust", Passed: true},
				access.Check{Name: "holder_binding", Skipped: true, Detail: "not checked: an earlier check failed"})
			return nil, &access.VerificationError{Checks: checks}
		}
		checks = append(checks, access.Check{Name: "status", Passed: true, Detail: "valid"})
	} else {
		checks = append(checks, access.Check{Name: "status", Passed: true, Skipped: true, Detail: "the credential has no status entry"})
	}
	checks = append(checks, access.Check{Name: "holder_binding", Passed: ver.KeyBound})
	vctClaim, _ := ver.Claims["vct"].(string)
	return []access.Presented{{Format: "dc+sd-jwt", Types: []string{vctClaim}, Issuer: issuerDID, Claims: ver.Claims,
		HolderKey: ver.Holder, Checks: checks}}, nil
}

// sessions is a real, simple SessionResults: a wallet's answer to a
// session is verified with the sdjwtVerifier when it arrives, and the
// result kept.
type sessions struct {
	mu  sync.Mutex
	v   *sdjwtVerifier
	res map[string]*access.SessionResult
}

func (s *sessions) Result(_ context.Context, id string) (*access.SessionResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.res[id]
	if !ok {
		return nil, access.ErrSessionNotFound
	}
	return r, nil
}

func (s *sessions) start(id string) {
	s.mu.Lock()
	s.res[id] = &access.SessionResult{Status: access.SessionPending}
	s.mu.Unlock()
}

func (s *sessions) expire(id string) {
	s.mu.Lock()
	s.res[id] = &access.SessionResult{Status: access.SessionExpired}
	s.mu.Unlock()
}

// answer verifies the wallet's presentation for the session's nonce.
func (s *sessions) answer(id, presentation, nonce string) {
	raw, _ := json.Marshal(presentation)
	creds, err := s.v.VerifyPresentation(context.Background(), "dc+sd-jwt", raw, nonce, audience)
	// openid4vp's Check has no Skipped: the session path loses it.
	for i := range creds {
		for j := range creds[i].Checks {
			creds[i].Checks[j].Skipped = false
		}
	}
	r := &access.SessionResult{Status: access.SessionVerified, Credentials: creds}
	var ve *access.VerificationError
	if errors.As(err, &ve) {
		for j := range ve.Checks {
			ve.Checks[j].Skipped = false
		}
		r = &access.SessionResult{Status: access.SessionFailed, Checks: ve.Checks}
	} else if err != nil {
		r = &access.SessionResult{Status: access.SessionFailed}
	}
	s.mu.Lock()
	s.res[id] = r
	s.mu.Unlock()
}

type party struct {
	key *keys.PrivateKey
	did did.DID
}

func newParty(t *testing.T) party {
	t.Helper()
	k, err := keys.Generate(keys.ES256)
	if err != nil {
		t.Fatal(err)
	}
	d, err := didkey.New(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	return party{k, d}
}

type fixture struct {
	t        *testing.T
	clock    *clock
	issuer   *keys.PrivateKey
	status   *statusList
	sessions *sessions
	log      *audit.Service
	ledger   *ledger.Log
	svc      *access.Service
	srv      *httptest.Server
	nextIdx  int
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{t: t, clock: &clock{t: t0}, status: &statusList{m: map[int]string{}}}
	var err error
	if f.issuer, err = keys.Generate(keys.ES256); err != nil {
		t.Fatal(err)
	}
	store, err := boltkv.Open(filepath.Join(t.TempDir(), "kv.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	seed := sha256.Sum256([]byte("access test ledger"))
	f.ledger, err = ledger.Open(context.Background(), ledger.Config{Dir: filepath.Join(t.TempDir(), "ledger"),
		Signer: ed25519.NewKeyFromSeed(seed[:]), Origin: "verifier.example/ledger"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.ledger.Close(context.Background()) })
	f.log, err = audit.New(store, f.ledger, audit.Options{Secret: bytes.Repeat([]byte{5}, 32), Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	v := &sdjwtVerifier{issuer: f.issuer.Public(), status: f.status, now: f.clock.Now}
	f.sessions = &sessions{v: v, res: map[string]*access.SessionResult{}}
	f.svc, err = access.New(store, f.log, access.Options{
		VerifierID: "did:medid:verifier", Audience: audience, Sessions: f.sessions, Presentations: v,
		Holders: access.DIDHolders{Resolver: did.NewResolver(didkey.Method{})}, Now: f.clock.Now,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	e := echo.New()
	e.HTTPErrorHandler = httpx.ErrorHandler(slog.New(slog.NewTextHandler(io.Discard, nil)))
	f.svc.Register(e.Group(""), httpx.AdminAuth(adminToken))
	f.srv = httptest.NewServer(e)
	t.Cleanup(f.srv.Close)
	return f
}

// consentClaims returns a valid consent of the patient for grantee.
func consentClaims(grantee did.DID) map[string]any {
	return map[string]any{
		"patient":         patientDID,
		"grantee":         map[string]any{"id": grantee.String(), "name": "Example Clinic", "kind": "clinic"},
		"scopes":          []any{"patient/Observation.rs", "patient/Condition.rs?category=problem-list-item"},
		"purposes":        []any{"TREAT"},
		"valid_from":      "2026-01-01T00:00:00Z",
		"valid_until":     "2026-07-01T00:00:00Z",
		"excluded_labels": []any{"PSY"},
		"delegable":       false,
	}
}

// issue issues a consent SD-JWT VC bound to holder's key, with a status
// list entry unless noStatus; it returns the credential and its status
// index.
func (f *fixture) issue(holder party, claims map[string]any, noStatus bool) (string, int) {
	f.t.Helper()
	idx := f.nextIdx
	f.nextIdx++
	vc := sdjwt.VCClaims{VCT: vct, Issuer: issuerDID, IssuedAt: t0.Add(-24 * time.Hour), Holder: holder.key.Public(), Claims: claims}
	if !noStatus {
		vc.Status = &sdjwt.StatusListRef{Index: idx, URI: statusURI}
	}
	iss, err := sdjwt.IssueVC(vc, sdjwt.Policy{OnlyPaths: true}, sdjwt.IssueOptions{Key: f.issuer})
	if err != nil {
		f.t.Fatal(err)
	}
	return iss.Compact(), idx
}

// present makes holder's presentation of cred for nonce and our audience.
func (f *fixture) present(holder party, cred, nonce string) string {
	f.t.Helper()
	p, err := sdjwt.Present(cred, nil, &sdjwt.KeyBindingOptions{Key: holder.key, Nonce: nonce, Audience: audience, IssuedAt: f.clock.Now()})
	if err != nil {
		f.t.Fatal(err)
	}
	return p
}

func (f *fixture) post(path string, body any, token string) (int, map[string]any) {
	f.t.Helper()
	raw, err := json.Marshal(body)
	if err != nil {
		f.t.Fatal(err)
	}
	return f.postRaw(path, raw, token)
}

func (f *fixture) postRaw(path string, raw []byte, token string) (int, map[string]any) {
	f.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+path, bytes.NewReader(raw))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		f.t.Fatalf("POST %s: %d, undecodable body: %v", path, resp.StatusCode, err)
	}
	if resp.StatusCode >= 400 && resp.Header.Get("Content-Type") != httpx.ContentTypeProblem {
		f.t.Fatalf("POST %s: %d with Content-Type %q", path, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return resp.StatusCode, out
}

// nonce asks the service for a nonce.
func (f *fixture) nonce() string {
	f.t.Helper()
	code, body := f.post(access.PathNonces, map[string]any{}, adminToken)
	if code != http.StatusCreated || body["audience"] != audience {
		f.t.Fatalf("nonce: %d %v", code, body)
	}
	return body["nonce"].(string)
}

// request is a default access request body: grantee reads Observations
// for treatment.
func request(grantee did.DID) map[string]any {
	return map[string]any{"patient": patientDID, "grantee": grantee.String(), "resource_type": "Observation",
		"interaction": "s", "params": map[string]any{"code": "8867-4"}, "purpose": "TREAT", "labels": []any{"HIV"}}
}

// latest returns the newest access log entry of the patient.
func (f *fixture) latest() (audit.Logged, int) {
	f.t.Helper()
	p := f.log.Pseudonym(mustDID(f.t, patientDID))
	page, err := f.log.List(context.Background(), audit.Filter{Patient: p, Limit: audit.MaxLimit})
	if err != nil {
		f.t.Fatal(err)
	}
	if len(page.Entries) == 0 {
		return audit.Logged{}, 0
	}
	return page.Entries[0], len(page.Entries)
}

func mustDID(t testing.TB, s string) did.DID {
	t.Helper()
	d, err := did.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func holdersFor(party) access.HolderKeys {
	return access.DIDHolders{Resolver: did.NewResolver(didkey.Method{})}
}

func openStore(t *testing.T) *boltkv.Store {
	t.Helper()
	s, err := boltkv.Open(filepath.Join(t.TempDir(), "kv2.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
