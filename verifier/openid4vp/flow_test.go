package openid4vp_test

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/medid/medid/credentials/dcql"
	"github.com/medid/medid/verifier/openid4vp"
)

func wantWalletError(t *testing.T, code int, body map[string]any, wantStatus int, wantErr string) {
	t.Helper()
	if code != wantStatus || body["error"] != wantErr {
		t.Fatalf("got %d %v, want %d error=%s", code, body, wantStatus, wantErr)
	}
	if d, _ := body["error_description"].(string); d == "" {
		t.Errorf("no error_description in %v", body)
	}
}

// The cross-device flow with direct_post and a decentralized_identifier
// client: the wallet fetches and verifies the signed request object,
// presents, and the caller sees only the disclosed claims. A replay of the
// same response is refused.
func TestDirectPostCrossDevice(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	s := f.createSession(map[string]any{"template": "patient-identity", "purpose": "Sign in to Clinic Example"})
	if !strings.HasPrefix(s.AuthorizationRequest, "openid4vp://?") || s.ClientID != "decentralized_identifier:"+verifierDID {
		t.Fatalf("session %+v", s)
	}
	for _, p := range []string{"/qr.png", "/qr.svg"} {
		code, b, h := f.do("GET", "/verifier/sessions/"+s.ID+p, "", "", nil)
		if code != 200 || len(b) == 0 || !strings.HasPrefix(h.Get("Content-Type"), "image/") {
			t.Fatalf("%s: %d %s", p, code, h.Get("Content-Type"))
		}
	}
	if st := f.status(s.ID); st.Status != openid4vp.StatusPending {
		t.Fatalf("status %q", st.Status)
	}
	w := &wallet{f: f}
	r, err := w.fetch(s.AuthorizationRequest)
	if err != nil {
		t.Fatal(err)
	}
	if r.str("response_mode") != "direct_post" || r.str("purpose") != "Sign in to Clinic Example" {
		t.Errorf("request params %v", r.Params)
	}
	meta := r.Params["client_metadata"].(map[string]any)
	if meta["client_name"] != "Clinic Example" || meta["vp_formats_supported"] == nil || meta["jwks"] != nil {
		t.Errorf("client_metadata %v", meta)
	}
	if vi, _ := r.Params["verifier_info"].([]any); len(vi) != 1 {
		t.Errorf("verifier_info %v", r.Params["verifier_info"])
	}
	form := directPostForm(w.present(r, f.cred), r.str("state"))
	code, body := w.post(r, form)
	if code != 200 || len(body) != 0 {
		t.Fatalf("response_uri: %d %v", code, body)
	}
	st := f.status(s.ID)
	if st.Status != openid4vp.StatusVerified || st.FinishedAt == nil {
		t.Fatalf("status %+v", st)
	}
	got := st.Credentials[dcql.PatientIdentityID]
	if len(got) != 1 || got[0].Claims["given_name"] != "Ada" || got[0].Claims["birthdate"] != "1815-12-10" {
		t.Fatalf("credentials %+v", st.Credentials)
	}
	if _, ok := got[0].Claims["gender"]; ok {
		t.Error("an undisclosed claim reached the status")
	}
	if len(got[0].Checks) == 0 {
		t.Error("no checks reported")
	}

	// Replay: the same response again.
	code, body = w.post(r, form)
	wantWalletError(t, code, body, 400, "invalid_request")
	if st := f.status(s.ID); st.Status != openid4vp.StatusVerified {
		t.Fatalf("status after replay %q", st.Status)
	}
	// The request object is not served once answered.
	if _, err := w.fetch(s.AuthorizationRequest); err == nil {
		t.Error("request object served after the response")
	}
}

// direct_post.jwt, with request_uri_method=post: the wallet encrypts to the
// ephemeral key from client_metadata. A response encrypted to another key
// (with the right kid, or with another kid) is refused and leaves the
// session pending.
func TestDirectPostJWT(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	s := f.createSession(map[string]any{"template": "patient-identity", "purpose": "Check in",
		"response_mode": "direct_post.jwt", "request_uri_method": "post"})
	if !strings.Contains(s.AuthorizationRequest, "request_uri_method=post") {
		t.Fatalf("link %s", s.AuthorizationRequest)
	}
	w := &wallet{f: f, walletNonce: "wn-" + strings.Repeat("x", 20)}
	r, err := w.fetch(s.AuthorizationRequest)
	if err != nil {
		t.Fatal(err)
	}
	meta := r.Params["client_metadata"].(map[string]any)
	if r.str("response_mode") != "direct_post.jwt" || meta["encrypted_response_enc_values_supported"] == nil {
		t.Fatalf("request %v", r.Params)
	}
	payload := map[string]any{"vp_token": w.present(r, f.cred), "state": r.str("state")}

	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	keys := meta["jwks"].(map[string]any)["keys"].([]any)
	kid := keys[0].(map[string]any)["kid"].(string)
	code, body := w.post(r, w.encryptedForm(r, payload, &other.PublicKey, kid))
	wantWalletError(t, code, body, 400, "invalid_request")
	code, body = w.post(r, w.encryptedForm(r, payload, &other.PublicKey, "another-kid"))
	wantWalletError(t, code, body, 400, "invalid_request")
	// The right key, but the JWE names another kid.
	rightKey := meta["jwks"].(map[string]any)["keys"].([]any)[0]
	kb, _ := json.Marshal(rightKey)
	pub, err := jwk.ParseKey(kb)
	if err != nil {
		t.Fatal(err)
	}
	_ = pub.Remove(jwk.KeyIDKey) // else jwx puts the key's own kid in the header
	code, body = w.post(r, w.encryptedForm(r, payload, pub, "another-kid"))
	wantWalletError(t, code, body, 400, "invalid_request")
	// Unencrypted vp_token in direct_post.jwt mode.
	code, body = w.post(r, directPostForm(w.present(r, f.cred), r.str("state")))
	wantWalletError(t, code, body, 400, "invalid_request")
	if st := f.status(s.ID); st.Status != openid4vp.StatusPending {
		t.Fatalf("status after bad responses %q", st.Status)
	}

	code, body = w.post(r, w.encryptedForm(r, payload, nil, ""))
	if code != 200 {
		t.Fatalf("response_uri: %d %v", code, body)
	}
	if st := f.status(s.ID); st.Status != openid4vp.StatusVerified || st.Credentials[dcql.PatientIdentityID][0].Claims["family_name"] != "Lovelace" {
		t.Fatalf("status %+v", st)
	}
}

// After the session's lifetime the request object and the response are
// refused, and the status says expired.
func TestExpiry(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	s := f.createSession(map[string]any{"template": "patient-identity", "purpose": "Check in"})
	w := &wallet{f: f}
	r, err := w.fetch(s.AuthorizationRequest)
	if err != nil {
		t.Fatal(err)
	}
	form := directPostForm(w.present(r, f.cred), r.str("state"))
	f.clock.Advance(5*time.Minute + time.Second)
	code, body := w.post(r, form)
	wantWalletError(t, code, body, 400, "invalid_request")
	if !strings.Contains(body["error_description"].(string), "expired") {
		t.Errorf("description %q", body["error_description"])
	}
	if _, err := w.fetch(s.AuthorizationRequest); err == nil {
		t.Error("request object served after expiry")
	}
	if st := f.status(s.ID); st.Status != openid4vp.StatusExpired {
		t.Fatalf("status %q", st.Status)
	}
	if code, _, _ := f.do("GET", "/verifier/sessions/"+s.ID+"/qr.png", "", "", nil); code != 404 {
		t.Errorf("QR code of an expired session: %d", code)
	}
}

// A wrong state and malformed vp_tokens are refused without consuming the
// session: the genuine response still succeeds afterwards.
func TestBadResponsesLeaveSessionPending(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	s := f.createSession(map[string]any{"template": "patient-identity", "purpose": "Check in"})
	w := &wallet{f: f}
	r, err := w.fetch(s.AuthorizationRequest)
	if err != nil {
		t.Fatal(err)
	}
	vp := w.present(r, f.cred)
	good, _ := json.Marshal(vp)
	bad := []url.Values{
		directPostForm(vp, "not-the-state"),
		directPostForm(vp, ""),
		{"vp_token": {`not json`}, "state": {r.str("state")}},
		{"vp_token": {`["a"]`}, "state": {r.str("state")}},
		{"vp_token": {`{}`}, "state": {r.str("state")}},
		{"vp_token": {`{"patient_identity":[]}`}, "state": {r.str("state")}},
		{"vp_token": {`{"patient_identity":[42]}`}, "state": {r.str("state")}},
		{"vp_token": {`{"patient_identity":[""]}`}, "state": {r.str("state")}},
		{"vp_token": {`{"patient_identity":[{"a":1}]}`}, "state": {r.str("state")}},
		{"vp_token": {`{"other":["x~"]}`}, "state": {r.str("state")}},
		{"vp_token": {`{"patient_identity":["a~","b~"]}`}, "state": {r.str("state")}},
		{"vp_token": {`{"patient_identity":["a~"],"patient_identity":["b~"]}`}, "state": {r.str("state")}},
		{"vp_token": {`{"patient_identity":["` + strings.Repeat("a", 70<<10) + `"]}`}, "state": {r.str("state")}},
		{"vp_token": {string(good), string(good)}, "state": {r.str("state")}},
		{"state": {r.str("state")}},
		{"response": {"eyJ.x.y.z.w"}, "state": {r.str("state")}},
		{"error": {"access denied!"}, "state": {r.str("state")}},
	}
	for i, form := range bad {
		code, body := w.post(r, form)
		if code != 400 || body["error"] != "invalid_request" {
			t.Errorf("bad response %d: %d %v", i, code, body)
		}
	}
	// Not a form at all.
	resp, err := f.client.Post(r.str("response_uri"), "application/json", strings.NewReader(`{"vp_token":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("JSON body: %d", resp.StatusCode)
	}
	// An unknown request id.
	code, body := w.post(&authzRequest{Params: map[string]any{"response_uri": baseURL + "/verifier/responses/nope"}}, directPostForm(vp, r.str("state")))
	wantWalletError(t, code, body, 404, "invalid_request")

	if st := f.status(s.ID); st.Status != openid4vp.StatusPending {
		t.Fatalf("status %q", st.Status)
	}
	code, body = w.post(r, directPostForm(vp, r.str("state")))
	if code != 200 {
		t.Fatalf("genuine response: %d %v", code, body)
	}
}

// Presentations that do not verify fail the session: a credential from an
// untrusted issuer, a presentation bound to another session's nonce (a
// replay across sessions), and one without the requested claims.
func TestVerificationFailures(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	w := &wallet{f: f}
	fetch := func() (*openid4vp.Session, *authzRequest) {
		s := f.createSession(map[string]any{"template": "patient-identity", "purpose": "Check in"})
		r, err := w.fetch(s.AuthorizationRequest)
		if err != nil {
			t.Fatal(err)
		}
		return s, r
	}
	wantFailed := func(id, code string) {
		t.Helper()
		st := f.status(id)
		if st.Status != openid4vp.StatusFailed || st.Error == nil || st.Error.Code != code || len(st.Credentials) != 0 {
			t.Fatalf("status %+v %+v", st, st.Error)
		}
	}

	s, r := fetch()
	untrusted := f.issueCredential(mustKey(t, "ES256"))
	code, body := w.post(r, directPostForm(w.present(r, untrusted), r.str("state")))
	wantWalletError(t, code, body, 400, "invalid_request")
	wantFailed(s.ID, openid4vp.StatusVerificationFailed)

	s1, r1 := fetch()
	s2, r2 := fetch()
	_ = s1
	code, body = w.post(r2, directPostForm(w.present(r1, f.cred), r2.str("state")))
	wantWalletError(t, code, body, 400, "invalid_request")
	wantFailed(s2.ID, openid4vp.StatusVerificationFailed)

	s3, r3 := fetch()
	q := r3.Params["dcql_query"].(map[string]any)
	cq := q["credentials"].([]any)[0].(map[string]any)
	cq["claims"] = []any{map[string]any{"path": []any{"given_name"}}} // the wallet withholds the rest
	code, body = w.post(r3, directPostForm(w.present(r3, f.cred), r3.str("state")))
	wantWalletError(t, code, body, 400, "invalid_request")
	wantFailed(s3.ID, openid4vp.StatusQueryNotSatisfied)
}

// A wallet error response (the user declined) fails the session with the
// wallet's code.
func TestWalletErrorResponse(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	s := f.createSession(map[string]any{"template": "consent", "purpose": "Read your records"})
	w := &wallet{f: f}
	r, err := w.fetch(s.AuthorizationRequest)
	if err != nil {
		t.Fatal(err)
	}
	code, body := w.post(r, url.Values{"error": {"access_denied"}, "error_description": {"the user declined"}, "state": {r.str("state")}})
	if code != 200 || len(body) != 0 {
		t.Fatalf("%d %v", code, body)
	}
	st := f.status(s.ID)
	if st.Status != openid4vp.StatusFailed || st.Error == nil || st.Error.Code != "access_denied" || st.Error.Description != "the user declined" {
		t.Fatalf("status %+v", st)
	}
	code, body = w.post(r, directPostForm(w.present(r, f.cred), r.str("state")))
	wantWalletError(t, code, body, 400, "invalid_request")
}

// Same-device: the wallet is sent back with a response_code, which the
// frontend exchanges once for the result.
func TestSameDeviceResponseCode(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	s := f.createSession(map[string]any{"template": "patient-identity", "purpose": "Sign in", "same_device": true})
	w := &wallet{f: f}
	r, err := w.fetch(s.AuthorizationRequest)
	if err != nil {
		t.Fatal(err)
	}
	code, body := w.post(r, directPostForm(w.present(r, f.cred), r.str("state")))
	ru, _ := body["redirect_uri"].(string)
	if code != 200 || !strings.HasPrefix(ru, redirectURI+"#response_code=") {
		t.Fatalf("%d %v", code, body)
	}
	rc := strings.TrimPrefix(ru, redirectURI+"#response_code=")
	result := func(id, rc string) (int, []byte) {
		b, _ := json.Marshal(map[string]string{"response_code": rc})
		code, out, _ := f.do("POST", "/verifier/sessions/"+id+"/result", "application/json", "", b)
		return code, out
	}
	other := f.createSession(map[string]any{"template": "patient-identity", "purpose": "Sign in"})
	if code, _ := result(other.ID, rc); code != 404 {
		t.Fatalf("response code for another session: %d", code)
	}
	// That attempt burned the code (single-use): ask for a fresh one.
	s = f.createSession(map[string]any{"template": "patient-identity", "purpose": "Sign in", "same_device": true})
	r, _ = w.fetch(s.AuthorizationRequest)
	_, body = w.post(r, directPostForm(w.present(r, f.cred), r.str("state")))
	rc = strings.TrimPrefix(body["redirect_uri"].(string), redirectURI+"#response_code=")
	code, out := result(s.ID, rc)
	var st openid4vp.Status
	_ = json.Unmarshal(out, &st)
	if code != 200 || st.Status != openid4vp.StatusVerified || st.Credentials[dcql.PatientIdentityID][0].Claims["given_name"] != "Ada" {
		t.Fatalf("%d %s", code, out)
	}
	if code, _ := result(s.ID, rc); code != 404 {
		t.Fatalf("second use of the response code: %d", code)
	}
	if code, _ := result(s.ID, "made-up"); code != 404 {
		t.Fatalf("made-up response code: %d", code)
	}
}

// The event stream sends one status event when the session finishes.
func TestServerSentEvents(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	s := f.createSession(map[string]any{"template": "patient-identity", "purpose": "Sign in"})
	req, _ := http.NewRequest("GET", s.EventsURI, nil)
	if resp, err := f.client.Do(req); err != nil || resp.StatusCode != 401 {
		t.Fatalf("events without a token: %v %v", err, resp)
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := f.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("%d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	events := make(chan string, 4)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		var ev string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				ev = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				events <- ev + " " + strings.TrimPrefix(line, "data: ")
			}
		}
		close(events)
	}()
	select {
	case e := <-events:
		t.Fatalf("event before the response: %s", e)
	case <-time.After(200 * time.Millisecond):
	}
	w := &wallet{f: f}
	r, err := w.fetch(s.AuthorizationRequest)
	if err != nil {
		t.Fatal(err)
	}
	if code, body := w.post(r, directPostForm(w.present(r, f.cred), r.str("state"))); code != 200 {
		t.Fatalf("%d %v", code, body)
	}
	select {
	case e := <-events:
		name, data, _ := strings.Cut(e, " ")
		var st openid4vp.Status
		if err := json.Unmarshal([]byte(data), &st); err != nil || name != "status" || st.Status != openid4vp.StatusVerified || st.ID != s.ID {
			t.Fatalf("event %q", e)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no event")
	}
	if _, ok := <-events; ok {
		t.Error("the stream did not end after the final event")
	}
	// A stream opened after the end answers at once.
	code, out, _ := f.do("GET", "/verifier/sessions/"+s.ID+"/events", "", adminToken, nil)
	if code != 200 || !strings.Contains(string(out), `"status":"verified"`) {
		t.Fatalf("%d %s", code, out)
	}
}

// The webhook receives the final status, signed with the shared secret.
func TestWebhook(t *testing.T) {
	secret := []byte("webhook-secret")
	f := newFixture(t, fixtureOpts{webhookSecret: secret})
	type hook struct {
		sig  string
		body []byte
	}
	got := make(chan hook, 2)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- hook{r.Header.Get(openid4vp.WebhookSignatureHeader), b}
	}))
	defer hs.Close()
	s := f.createSession(map[string]any{"template": "patient-identity", "purpose": "Sign in", "webhook_url": hs.URL + "/hook"})
	w := &wallet{f: f}
	r, err := w.fetch(s.AuthorizationRequest)
	if err != nil {
		t.Fatal(err)
	}
	if code, body := w.post(r, directPostForm(w.present(r, f.cred), r.str("state"))); code != 200 {
		t.Fatalf("%d %v", code, body)
	}
	select {
	case h := <-got:
		var st openid4vp.Status
		if err := json.Unmarshal(h.body, &st); err != nil || st.ID != s.ID || st.Status != openid4vp.StatusVerified {
			t.Fatalf("webhook body %s", h.body)
		}
		want := openid4vp.SignWebhook(secret, h.body, f.clock.Now())
		if !hmac.Equal([]byte(h.sig), []byte(want)) {
			t.Fatalf("signature %q, want %q", h.sig, want)
		}
		if openid4vp.SignWebhook([]byte("other"), h.body, f.clock.Now()) == h.sig {
			t.Fatal("signature does not depend on the secret")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no webhook")
	}
}

// The redirect_uri prefix: an unsigned request passed by value in the link.
func TestRedirectURIPrefix(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	s := f.createSession(map[string]any{"template": "patient-identity", "purpose": "Sign in", "client_id_prefix": "redirect_uri"})
	if s.RequestURI != "" || !strings.Contains(s.AuthorizationRequest, "dcql_query=") {
		t.Fatalf("session %+v", s)
	}
	w := &wallet{f: f}
	r, err := w.fetch(s.AuthorizationRequest)
	if err != nil {
		t.Fatal(err)
	}
	if r.ClientID != "redirect_uri:"+r.str("response_uri") || r.Params["verifier_info"] != nil {
		t.Fatalf("request %v", r.Params)
	}
	if code, body := w.post(r, directPostForm(w.present(r, f.cred), r.str("state"))); code != 200 {
		t.Fatalf("%d %v", code, body)
	}
	if st := f.status(s.ID); st.Status != openid4vp.StatusVerified {
		t.Fatalf("status %q", st.Status)
	}
}

// The x509_san_dns prefix: the request object carries the chain in x5c and
// the wallet checks it against its roots and the DNS name.
func TestX509SANDNSPrefix(t *testing.T) {
	f := newFixture(t, fixtureOpts{x509: true})
	s := f.createSession(map[string]any{"template": "patient-identity", "purpose": "Sign in", "client_id_prefix": "x509_san_dns",
		"response_mode": "direct_post.jwt"})
	if s.ClientID != "x509_san_dns:verifier.example" {
		t.Fatalf("client_id %q", s.ClientID)
	}
	w := &wallet{f: f}
	r, err := w.fetch(s.AuthorizationRequest)
	if err != nil {
		t.Fatal(err)
	}
	payload := map[string]any{"vp_token": w.present(r, f.cred), "state": r.str("state")}
	if code, body := w.post(r, w.encryptedForm(r, payload, nil, "")); code != 200 {
		t.Fatalf("%d %v", code, body)
	}
	if st := f.status(s.ID); st.Status != openid4vp.StatusVerified {
		t.Fatalf("status %q", st.Status)
	}
}

// Session creation: authentication, and each invalid member named.
func TestCreateSessionValidation(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	if code, _, _ := f.do("POST", "/verifier/sessions", "application/json", "", []byte(`{"template":"consent","purpose":"x"}`)); code != 401 {
		t.Fatalf("without a token: %d", code)
	}
	if code, _, _ := f.do("POST", "/verifier/sessions", "application/json", "wrong-token-0000000000", []byte(`{"template":"consent","purpose":"x"}`)); code != 401 {
		t.Fatalf("with a wrong token: %d", code)
	}
	cases := []struct{ body, field string }{
		{`{"purpose":"x"}`, "dcql_query"},
		{`{"template":"consent","dcql_query":{"credentials":[]},"purpose":"x"}`, "dcql_query"},
		{`{"template":"nope","purpose":"x"}`, "template"},
		{`{"template":"consent"}`, "purpose"},
		{`{"template":"consent","purpose":"a\u0000b"}`, "purpose"},
		{`{"dcql_query":{"credentials":[]},"purpose":"x"}`, "dcql_query"},
		{`{"dcql_query":{"credentials":[{"id":"a b","format":"dc+sd-jwt","meta":{}}]},"purpose":"x"}`, "dcql_query"},
		{`{"dcql_query":{"credentials":[{"id":"a","format":"dc+sd-jwt"}]},"purpose":"x"}`, "dcql_query"},
		{`{"dcql_query":{"credentials":[{"id":"a","format":"dc+sd-jwt","meta":{},"claims":[{"path":[-1]}]}]},"purpose":"x"}`, "dcql_query"},
		{`{"dcql_query":{"credentials":[{"id":"a","format":"dc+sd-jwt","meta":{}}],"credential_sets":[{"options":[["b"]]}]},"purpose":"x"}`, "dcql_query"},
		{`{"template":"consent","purpose":"x","response_mode":"fragment"}`, "response_mode"},
		{`{"template":"consent","purpose":"x","client_id_prefix":"x509_san_dns"}`, "client_id_prefix"},
		{`{"template":"consent","purpose":"x","request_uri_method":"put"}`, "request_uri_method"},
		{`{"template":"consent","purpose":"x","webhook_url":"ftp://hooks.example/"}`, "webhook_url"},
		{`{"template":"consent","purpose":"x","unknown":1}`, "unknown"},
	}
	for _, c := range cases {
		code, out, _ := f.do("POST", "/verifier/sessions", "application/json", adminToken, []byte(c.body))
		var p struct{ Field string }
		_ = json.Unmarshal(out, &p)
		if code != 400 || p.Field != c.field {
			t.Errorf("%s: %d %s (want field %s)", c.body, code, out, c.field)
		}
	}
	// A full DCQL query is accepted and sent as given.
	q := `{"credentials":[{"id":"pid","format":"dc+sd-jwt","meta":{"vct_values":["https://issuer.example/vct/PatientIdentityCredential"]},` +
		`"claims":[{"id":"g","path":["given_name"]},{"id":"b","path":["birthdate"]}],"claim_sets":[["g","b"],["g"]]}]}`
	s := f.createSession(map[string]any{"dcql_query": json.RawMessage(q), "purpose": "x"})
	if string(s.DCQLQuery) != q {
		t.Errorf("query %s", s.DCQLQuery)
	}
	if code, _, _ := f.do("GET", "/verifier/sessions/nope", "", adminToken, nil); code != 404 {
		t.Errorf("unknown session: %d", code)
	}
}
