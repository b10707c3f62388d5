package registry

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/medid/medid/did"
	"github.com/medid/medid/internal/httpx"
	"github.com/medid/medid/internal/keys"
	"github.com/medid/medid/internal/kv/boltkv"
)

const adminToken = "test-admin-token-0123456789"

type regServer struct {
	*fixture
	url string
	ks  *keys.Keystore
}

func newRegServer(t *testing.T, limit *httpx.RateLimiter) *regServer {
	t.Helper()
	f := newFixture(t)
	shared, err := boltkv.Open(filepath.Join(t.TempDir(), "shared.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { shared.Close() })
	mk, _, err := keys.LoadMasterKey(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)), "")
	if err != nil {
		t.Fatal(err)
	}
	ks, err := keys.NewKeystore(shared, mk)
	if err != nil {
		t.Fatal(err)
	}
	g := NewRegistrar(f.reg, ks, shared)
	e := echo.New()
	e.HTTPErrorHandler = httpx.ErrorHandler(quietLogger())
	g.Register(e.Group(""), adminToken, limit)
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return &regServer{fixture: f, url: srv.URL, ks: ks}
}

func (s *regServer) post(t *testing.T, path, token string, body any) (int, map[string]any, http.Header) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, s.url+path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode >= 400 && resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("%s: error %d is not problem+json", path, resp.StatusCode)
	}
	return resp.StatusCode, out, resp.Header
}

func TestInternalSecretModeCreateUpdateDeactivate(t *testing.T) {
	s := newRegServer(t, nil)
	ctx := context.Background()
	code, out, _ := s.post(t, "/1.0/create?method=medid", adminToken, map[string]any{})
	if code != http.StatusCreated {
		t.Fatalf("create: %d %v", code, out)
	}
	d := out["didState"].(map[string]any)["did"].(string)
	res, err := s.reg.Resolve(ctx, mustDID(t, d), did.ResolutionOptions{})
	if err != nil || len(res.Document.VerificationMethod) != 2 {
		t.Fatalf("resolve: %v %+v", err, res)
	}
	// The server holds the verification keys it generated.
	for _, vm := range res.Document.VerificationMethod {
		pub, err := vm.PublicKey()
		if err != nil {
			t.Fatal(err)
		}
		tp, _ := keys.ThumbprintOf(pub)
		if _, err := s.ks.Get(ctx, VerificationKeyID(d, tp)); err != nil {
			t.Fatalf("key of %s not held: %v", vm.ID, err)
		}
	}
	// Add a service, rotating the update key.
	code, out, _ = s.post(t, "/1.0/update", adminToken, map[string]any{"did": d, "options": map[string]any{"rotateUpdateKey": true},
		"didDocumentOperation": []string{"addToDidDocument"},
		"didDocument":          []any{map[string]any{"service": []any{map[string]any{"id": "#s", "type": "LinkedDomains", "serviceEndpoint": "https://h.example"}}}}})
	if code != http.StatusOK {
		t.Fatalf("update: %d %v", code, out)
	}
	res, _ = s.reg.Resolve(ctx, mustDID(t, d), did.ResolutionOptions{})
	if len(res.Document.Service) != 1 || len(res.Document.VerificationMethod) != 2 || res.DocumentMetadata.VersionID != "2" {
		t.Fatalf("after add: %+v", res.Document)
	}
	// Remove a key by its relative id (the stored document has absolute
	// ids): both forms name the same entry.
	code, out, _ = s.post(t, "/1.0/update", adminToken, map[string]any{"did": d,
		"didDocumentOperation": []string{"removeFromDidDocument"},
		"didDocument": []any{map[string]any{"verificationMethod": []any{map[string]any{"id": "#key-2"}},
			"authentication": []any{"#key-2"}, "assertionMethod": []any{d + "#key-2"}}}})
	if code != http.StatusOK {
		t.Fatalf("remove #key-2: %d %v", code, out)
	}
	res, _ = s.reg.Resolve(ctx, mustDID(t, d), did.ResolutionOptions{})
	if len(res.Document.VerificationMethod) != 1 || res.Document.VerificationMethod[0].ID != d+"#key-1" || len(res.Document.AssertionMethod) != 1 {
		t.Fatalf("after removing #key-2: %+v", res.Document)
	}
	// Without the token, internal mode is refused; with a wrong one, 401.
	if code, _, _ := s.post(t, "/1.0/deactivate", "", map[string]any{"did": d}); code != http.StatusUnauthorized {
		t.Fatalf("deactivate without token: %d", code)
	}
	if code, _, h := s.post(t, "/1.0/deactivate", "wrong-token-wrong-token", map[string]any{"did": d}); code != http.StatusUnauthorized || h.Get("WWW-Authenticate") == "" {
		t.Fatalf("deactivate with wrong token: %d", code)
	}
	if code, out, _ := s.post(t, "/1.0/deactivate", adminToken, map[string]any{"did": d}); code != http.StatusOK {
		t.Fatalf("deactivate: %d %v", code, out)
	}
	if code, _, _ := s.post(t, "/1.0/update", adminToken, map[string]any{"did": d, "didDocument": map[string]any{}}); code != http.StatusGone {
		t.Fatalf("update after deactivate: %d", code)
	}
}

func mustDID(t *testing.T, s string) did.DID {
	t.Helper()
	d, err := did.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestClientManagedJobIsSingleUse(t *testing.T) {
	s := newRegServer(t, nil)
	a := newActor(t)
	body := map[string]any{"options": map[string]any{"clientSecretMode": true, "updateKey": jwkOf(t, a.update),
		"recoveryKey": jwkOf(t, a.recovery)}, "didDocument": json.RawMessage(docWith(t, a.vm))}
	code, out, _ := s.post(t, "/1.0/create?method=medid", "", body)
	if code != http.StatusOK || out["didState"].(map[string]any)["state"] != "action" {
		t.Fatalf("create: %d %v", code, out)
	}
	job := out["jobId"].(string)
	sr := out["didState"].(map[string]any)["signingRequest"].(map[string]any)["signingRequest1"].(map[string]any)
	if sr["kid"] != a.update.Thumbprint() || sr["alg"] != "ES256" {
		t.Fatalf("signing request: %v", sr)
	}
	input, _ := base64.RawURLEncoding.DecodeString(sr["serializedPayload"].(string))
	sig, _ := SignInput(a.update, input)
	answer := map[string]any{"jobId": job, "secret": map[string]any{"signingResponse": map[string]any{
		"signingRequest1": map[string]any{"signature": base64.RawURLEncoding.EncodeToString(sig)}}}}
	code, out, _ = s.post(t, "/1.0/create?method=medid", "", answer)
	if code != http.StatusCreated || out["didState"].(map[string]any)["state"] != "finished" {
		t.Fatalf("finish: %d %v", code, out)
	}
	// The same answer again: the job is gone.
	if code, out, _ := s.post(t, "/1.0/create?method=medid", "", answer); code != http.StatusNotFound || out["field"] != "jobId" {
		t.Fatalf("replayed job: %d %v", code, out)
	}
	// A bad signature: 403, nothing appended.
	code, out, _ = s.post(t, "/1.0/create?method=medid", "", body)
	if code != http.StatusOK {
		t.Fatal(code)
	}
	size, _ := s.log.IntegratedSize(context.Background())
	bad, _ := SignInput(a.recovery, []byte(out["didState"].(map[string]any)["signingRequest"].(map[string]any)["signingRequest1"].(map[string]any)["serializedPayload"].(string)))
	code, _, _ = s.post(t, "/1.0/create?method=medid", "", map[string]any{"jobId": out["jobId"], "secret": map[string]any{
		"signingResponse": map[string]any{"signingRequest1": map[string]any{"signature": base64.RawURLEncoding.EncodeToString(bad)}}}})
	if code != http.StatusForbidden {
		t.Fatalf("bad signature: %d", code)
	}
	if after, _ := s.log.IntegratedSize(context.Background()); after != size {
		t.Fatal("a refused operation was appended")
	}
}

func TestRegistrarBadInput(t *testing.T) {
	s := newRegServer(t, nil)
	a := newActor(t)
	cm := func(extra map[string]any) map[string]any {
		o := map[string]any{"clientSecretMode": true, "updateKey": jwkOf(t, a.update), "recoveryKey": jwkOf(t, a.recovery)}
		for k, v := range extra {
			o[k] = v
		}
		return map[string]any{"options": o, "didDocument": json.RawMessage(docWith(t, a.vm))}
	}
	for _, tc := range []struct {
		name, path string
		body       any
		code       int
		field      string
	}{
		{"no method", "/1.0/create", cm(nil), 400, "method"},
		{"other method", "/1.0/create?method=web", cm(nil), 400, "method"},
		{"unknown member", "/1.0/create?method=medid", map[string]any{"bogus": 1}, 400, "bogus"},
		{"no update key", "/1.0/create?method=medid", map[string]any{"options": map[string]any{"clientSecretMode": true}, "didDocument": map[string]any{}}, 400, "options.updateKey"},
		{"private jwk", "/1.0/create?method=medid", cm(map[string]any{"updateKey": map[string]any{"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA", "d": "AA"}}), 400, "options"},
		{"template in client mode", "/1.0/create?method=medid", map[string]any{"options": cm(nil)["options"], "didDocument": map[string]any{"verificationMethod": []any{map[string]any{"id": "#k", "type": "Multikey"}}}}, 400, "didDocument.verificationMethod[0]"},
		{"option that does not apply", "/1.0/create?method=medid", cm(map[string]any{"rotateUpdateKey": true}), 400, "options.rotateUpdateKey"},
		{"unknown DID", "/1.0/update", map[string]any{"did": "did:medid:" + strings.Repeat("a", 52), "didDocument": map[string]any{}, "options": map[string]any{"clientSecretMode": true}}, 404, "did"},
		{"malformed DID", "/1.0/deactivate", map[string]any{"did": "not-a-did"}, 400, "did"},
		{"internal mode without token", "/1.0/create?method=medid", map[string]any{}, 401, "options.clientSecretMode"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, _ := s.post(t, tc.path, "", tc.body)
			if code != tc.code {
				t.Fatalf("status %d, want %d: %v", code, tc.code, out)
			}
			if f, _ := out["field"].(string); !strings.HasPrefix(f, tc.field) {
				t.Fatalf("field %q, want %q (%v)", f, tc.field, out)
			}
		})
	}
	// Nested members outside the allowlist never reach the log.
	doc := map[string]any{"verificationMethod": []any{map[string]any{"id": "#k", "type": "Multikey",
		"publicKeyMultibase": "z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp", "patientName": "Alice"}}}
	body := map[string]any{"options": cm(nil)["options"], "didDocument": doc}
	code, out, _ := s.post(t, "/1.0/create?method=medid", "", body)
	if code == http.StatusOK { // the shape check may come at signing time
		input, _ := base64.RawURLEncoding.DecodeString(out["didState"].(map[string]any)["signingRequest"].(map[string]any)["signingRequest1"].(map[string]any)["serializedPayload"].(string))
		sig, _ := SignInput(a.update, input)
		code, out, _ = s.post(t, "/1.0/create?method=medid", "", map[string]any{"jobId": out["jobId"], "secret": map[string]any{
			"signingResponse": map[string]any{"signingRequest1": map[string]any{"signature": base64.RawURLEncoding.EncodeToString(sig)}}}})
	}
	if code != http.StatusBadRequest || out["field"] != "document.verificationMethod[0].patientName" {
		t.Fatalf("nested member: %d %v", code, out)
	}
}

func TestClientManagedRateLimit(t *testing.T) {
	s := newRegServer(t, httpx.NewRateLimiter(0.001, 3))
	for i := range 5 {
		code, _, h := s.post(t, "/1.0/create?method=medid", "", map[string]any{"options": map[string]any{"clientSecretMode": true}})
		switch {
		case i < 3 && code != http.StatusBadRequest:
			t.Fatalf("request %d: %d", i, code)
		case i >= 3 && (code != http.StatusTooManyRequests || h.Get("Retry-After") == ""):
			t.Fatalf("request %d: %d, want 429 with Retry-After", i, code)
		}
	}
	// The admin is not rate-limited.
	if code, _, _ := s.post(t, "/1.0/create?method=medid", adminToken, map[string]any{}); code != http.StatusCreated {
		t.Fatalf("admin create: %d", code)
	}
}

func TestNonCanonicalPayloadRefused(t *testing.T) {
	a := newActor(t)
	good := sign(t, a.createOp(), a.update)
	parts := strings.Split(good.JWS, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	spaced := bytes.Replace(payload, []byte(`{`), []byte(`{ `), 1)
	if _, err := ParseSignedOp(parts[0] + "." + base64.RawURLEncoding.EncodeToString(spaced) + "." + parts[2]); err == nil {
		t.Fatal("non-canonical payload accepted")
	}
}
