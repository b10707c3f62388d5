package verifier_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/medid/medid/credentials/jwtvc"
	"github.com/medid/medid/internal/httpx"
)

const adminToken = "test-admin-token-0123456789"

func serve(t *testing.T, w *world) *httptest.Server {
	t.Helper()
	e := echo.New()
	e.HTTPErrorHandler = httpx.ErrorHandler(slog.New(slog.DiscardHandler))
	w.v.Register(e.Group(""), httpx.AdminAuth(adminToken))
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return srv
}

type response struct {
	status     int
	ctype      string
	body       map[string]any
	retryAfter string
}

func post(t *testing.T, srv *httptest.Server, path, token string, body []byte) response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := response{status: resp.StatusCode, ctype: resp.Header.Get("Content-Type"), retryAfter: resp.Header.Get("Retry-After")}
	if err := json.Unmarshal(b, &r.body); err != nil {
		t.Fatalf("%s: %d, body is not JSON: %.200s", path, resp.StatusCode, b)
	}
	return r
}

func body(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// failedChecks returns name→reason of the failed checks in a problem's
// checks extension.
func failedChecks(t *testing.T, r response) map[string]string {
	t.Helper()
	list, ok := r.body["checks"].([]any)
	if !ok {
		t.Fatalf("no checks extension: %v", r.body)
	}
	out := map[string]string{}
	for _, c := range list {
		m := c.(map[string]any)
		if m["ok"] == false && m["skipped"] != true {
			out[m["name"].(string)], _ = m["reason"].(string)
		}
	}
	return out
}

func TestHTTPVerifyCredential(t *testing.T) {
	w := newWorld(t)
	srv := serve(t, w)
	sd, _ := w.issueSD(sdOpts{})
	jwt, _ := w.issueJWT(jwtOpts{format: jwtvc.VCJWT})
	// Revoked before the list is first fetched (and cached for its ttl).
	revoked, idx := w.issueSD(sdOpts{})
	w.status.setToken(idx, 1)

	if r := post(t, srv, "/credentials/verify", "", body(map[string]any{"verifiableCredential": sd})); r.status != 401 {
		t.Fatalf("without the admin token: %d", r.status)
	}
	for _, vc := range []any{sd, json.RawMessage(envelope("EnvelopedVerifiableCredential", "vc+jwt", jwt))} {
		r := post(t, srv, "/credentials/verify", adminToken, body(map[string]any{"verifiableCredential": vc, "options": map[string]any{}}))
		if r.status != 200 || r.body["verified"] != true || r.ctype != "application/json" {
			t.Fatalf("valid credential: %d %s %v", r.status, r.ctype, r.body)
		}
		if n := len(r.body["checks"].([]any)); n != 6 {
			t.Fatalf("%d checks", n)
		}
		cred := r.body["credential"].(map[string]any)
		if cred["issuer"] != w.issuer.did || cred["claims"].(map[string]any)["given_name"] != "Ada" {
			t.Fatalf("credential %v", cred)
		}
	}

	r := post(t, srv, "/credentials/verify", adminToken, body(map[string]any{"verifiableCredential": revoked}))
	if r.status != 422 || r.ctype != httpx.ContentTypeProblem || !strings.HasSuffix(r.body["type"].(string), "#verification-failed") {
		t.Fatalf("revoked: %d %s %v", r.status, r.ctype, r.body)
	}
	if f := failedChecks(t, r); len(f) != 1 || !strings.Contains(f["status"], "revoked") {
		t.Fatalf("failed checks %v", f)
	}
	if !strings.Contains(r.body["detail"].(string), "status") {
		t.Fatalf("detail %v", r.body["detail"])
	}
}

func TestHTTPVerifyPresentation(t *testing.T) {
	w := newWorld(t)
	srv := serve(t, w)
	sd, _ := w.issueSD(sdOpts{})
	p := w.present(sd, nonce, audience, []any{"given_name"})
	opts := map[string]any{"challenge": nonce, "domain": audience}
	r := post(t, srv, "/presentations/verify", adminToken, body(map[string]any{"verifiablePresentation": p, "options": opts}))
	if r.status != 200 || r.body["verified"] != true || r.ctype != "application/json" {
		t.Fatalf("valid: %d %s %v", r.status, r.ctype, r.body)
	}
	creds := r.body["presentation"].(map[string]any)["credentials"].([]any)
	claims := creds[0].(map[string]any)["claims"].(map[string]any)
	if _, ok := claims["family_name"]; ok || claims["given_name"] != "Ada" {
		t.Fatalf("claims %v", claims)
	}

	jwt, _ := w.issueJWT(jwtOpts{format: jwtvc.JWTVCJSON})
	vp := w.jwtVP([]any{jwt}, vpOpts{})
	env := json.RawMessage(envelope("EnvelopedVerifiablePresentation", "vp+jwt", vp))
	if r := post(t, srv, "/presentations/verify", adminToken, body(map[string]any{"verifiablePresentation": env, "options": opts})); r.status != 200 {
		t.Fatalf("JWT VP: %d %v", r.status, r.body)
	}

	wrong := map[string]any{"challenge": "another", "domain": audience}
	r = post(t, srv, "/presentations/verify", adminToken, body(map[string]any{"verifiablePresentation": p, "options": wrong}))
	if r.status != 422 || !strings.Contains(failedChecks(t, r)["holder_binding"], "nonce") {
		t.Fatalf("wrong challenge: %d %v", r.status, r.body)
	}
	r = post(t, srv, "/presentations/verify", adminToken, body(map[string]any{"verifiablePresentation": p, "options": map[string]any{"domain": audience}}))
	if r.status != 400 || r.body["field"] != "options.challenge" {
		t.Fatalf("no challenge: %d %v", r.status, r.body)
	}
}

func TestHTTPBadInput(t *testing.T) {
	w := newWorld(t)
	srv := serve(t, w)
	sd, _ := w.issueSD(sdOpts{})
	for name, tc := range map[string]struct {
		body   []byte
		status int
		kind   string
	}{
		"token over 64 KB": {body(map[string]any{"verifiableCredential": sd + strings.Repeat("A", 64<<10) + "~"}), 413, "too-large"},
		"a number":         {[]byte(`{"verifiableCredential": 42}`), 400, "invalid-request"},
		"not a token":      {[]byte(`{"verifiableCredential": "hello"}`), 400, "invalid-request"},
		"missing":          {[]byte(`{"options": {}}`), 400, "invalid-request"},
		"unknown option":   {[]byte(`{"verifiableCredential": "a.b.c", "options": {"checks": ["proof"]}}`), 400, "invalid-request"},
		"data integrity": {[]byte(`{"verifiableCredential": {"@context": ["https://www.w3.org/ns/credentials/v2"], "type": ["VerifiableCredential"],
			"issuer": "did:web:x.example", "credentialSubject": {}, "proof": {"type": "DataIntegrityProof"}}}`), 422, "unsupported-format"},
		"unknown envelope media type": {body(map[string]any{"verifiableCredential": map[string]any{
			"type": "EnvelopedVerifiableCredential", "id": "data:application/mdoc,AAAA"}}), 422, "unsupported-format"},
	} {
		t.Run(name, func(t *testing.T) {
			r := post(t, srv, "/credentials/verify", adminToken, tc.body)
			if r.status != tc.status || r.ctype != httpx.ContentTypeProblem || !strings.HasSuffix(r.body["type"].(string), "#"+tc.kind) {
				t.Fatalf("%d %s %v", r.status, r.ctype, r.body)
			}
		})
	}
}
