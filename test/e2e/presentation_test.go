package e2e

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/medid/medid/credentials/sdjwt"
	"github.com/medid/medid/internal/keys"
)

// walletRequest fetches and checks a signed OpenID4VP request object as a
// wallet does: the client_id names a DID, which the wallet resolves (here,
// over the server's own DID resolution endpoint) to check the signature.
func walletRequest(t *testing.T, srv *server, link string) (clientID string, req map[string]any) {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil || u.Scheme != "openid4vp" {
		t.Fatalf("link %q", link)
	}
	clientID = u.Query().Get("client_id")
	prefix, verifierDID, _ := strings.Cut(clientID, ":")
	if prefix != "decentralized_identifier" || verifierDID != srv.App.ServerDID {
		t.Fatalf("client_id %q", clientID)
	}
	resp, err := http.Get(u.Query().Get("request_uri"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/oauth-authz-req+jwt" {
		t.Fatalf("request_uri: %d %s", resp.StatusCode, body)
	}
	hb, _ := base64.RawURLEncoding.DecodeString(strings.Split(string(body), ".")[0])
	var h struct{ Alg, Typ, Kid string }
	json.Unmarshal(hb, &h)
	if h.Typ != "oauth-authz-req+jwt" || h.Alg != "ES256" || !strings.HasPrefix(h.Kid, verifierDID+"#") {
		t.Fatalf("request object header %+v", h)
	}
	pub, err := issuerKeyAt(t, srv.URL, h.Kid, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	payload, err := jws.Verify(body, jws.WithKey(jwa.ES256(), pub))
	if err != nil {
		t.Fatalf("request object signature: %v", err)
	}
	json.Unmarshal(payload, &req)
	if req["client_id"] != clientID || req["response_type"] != "vp_token" || req["nonce"] == "" {
		t.Fatalf("request object %v", req)
	}
	return clientID, req
}

// sessionForm creates a patient-identity session for purpose and builds
// the wallet's direct_post answer to it: cred presented with the claims
// the query asks for, bound to the request's nonce and client_id. It
// returns the session, the response_uri and the form.
func sessionForm(t *testing.T, srv *server, cred string, holder *keys.PrivateKey, purpose string) (sess map[string]any, responseURI string, form url.Values) {
	t.Helper()
	code, sess := postJSON(t, srv.URL+"/verifier/sessions", srv.Admin, map[string]any{"template": "patient-identity", "purpose": purpose})
	if code != http.StatusCreated {
		t.Fatalf("session: %d %v", code, sess)
	}
	clientID, req := walletRequest(t, srv, sess["authorization_request"].(string))
	q := req["dcql_query"].(map[string]any)["credentials"].([]any)[0].(map[string]any)
	var paths [][]any
	for _, c := range q["claims"].([]any) {
		paths = append(paths, c.(map[string]any)["path"].([]any))
	}
	vp, err := sdjwt.Present(cred, sdjwt.DisclosePaths(paths...), &sdjwt.KeyBindingOptions{
		Key: holder, Nonce: req["nonce"].(string), Audience: clientID, IssuedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	token, _ := json.Marshal(map[string][]string{q["id"].(string): {vp}})
	return sess, req["response_uri"].(string), url.Values{"vp_token": {string(token)}, "state": {req["state"].(string)}}
}

// sessionStatus reads a session's status document from its status_uri.
func sessionStatus(t *testing.T, srv *server, sess map[string]any) map[string]any {
	t.Helper()
	r, _ := http.NewRequest(http.MethodGet, sess["status_uri"].(string), nil)
	r.Header.Set("Authorization", "Bearer "+srv.Admin)
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatalf("status: %d %v", resp.StatusCode, err)
	}
	return st
}

// TestPresentationToVerifierSession: a credential issued over OpenID4VCI is
// presented over OpenID4VP (direct_post) to a session of the same server;
// the session reports only the disclosed claims, and the same vp_token is
// refused a second time.
func TestPresentationToVerifierSession(t *testing.T) {
	srv := startServer(t, tempData(t), nil)
	holder, _ := keys.Generate(keys.ES256)
	cred := issuePatientIdentity(t, srv.URL, srv.Admin, holder)

	sess, responseURI, form := sessionForm(t, srv, cred, holder, "Sign in to the clinic")
	post := func() int {
		resp, err := http.PostForm(responseURI, form)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Logf("response_uri: %d %s", resp.StatusCode, b)
		return resp.StatusCode
	}
	if c := post(); c != 200 {
		t.Fatalf("direct_post: %d", c)
	}
	st := sessionStatus(t, srv, sess)
	raw, _ := json.Marshal(st)
	if st["status"] != "verified" || !strings.Contains(string(raw), `"given_name":"Ada"`) {
		t.Fatalf("status: %s", raw)
	}
	// Claims the query did not ask for were never disclosed.
	if strings.Contains(string(raw), "MRN-0042") || strings.Contains(string(raw), "hospital.example") {
		t.Fatalf("undisclosed claims in the result: %s", raw)
	}
	if c := post(); c != http.StatusBadRequest {
		t.Fatalf("replayed vp_token: %d", c)
	}
	// The verification is on the access log, with claim names, never values.
	r, _ := http.NewRequest(http.MethodGet, srv.URL+"/verifier/audit?outcome=verified", nil)
	r.Header.Set("Authorization", "Bearer "+srv.Admin)
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	logRaw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var page struct {
		Entries []struct {
			Kind       string   `json:"kind"`
			Patient    string   `json:"patient"`
			ClaimNames []string `json:"claim_names"`
			Commitment string   `json:"commitment"`
		} `json:"entries"`
	}
	json.Unmarshal(logRaw, &page)
	if resp.StatusCode != 200 || len(page.Entries) != 1 || page.Entries[0].Kind != "verification" || page.Entries[0].Patient == "" ||
		page.Entries[0].Commitment == "" || !contains(page.Entries[0].ClaimNames, "given_name") || strings.Contains(string(logRaw), "Ada") {
		t.Fatalf("access log: %d %s", resp.StatusCode, logRaw)
	}
}
