package walletapi_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/medid/medid/internal/httpx"
	"github.com/medid/medid/internal/keys"
	"github.com/medid/medid/internal/kv/boltkv"
	walletapi "github.com/medid/medid/wallet-api"
)

// wire records what the wallet sends to verifiers' response URIs: the
// bytes on the wire, before the verifier sees them.
type wire struct {
	next  http.RoundTripper
	mu    sync.Mutex
	posts []posted
}

type posted struct {
	URL  string
	Form url.Values
	Raw  string
}

func (w *wire) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodPost && strings.Contains(req.URL.Path, "/verifier/responses/") && req.Body != nil {
		b, err := io.ReadAll(req.Body)
		if err != nil {
			return nil, err
		}
		req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(b))
		form, _ := url.ParseQuery(string(b))
		w.mu.Lock()
		w.posts = append(w.posts, posted{URL: req.URL.String(), Form: form, Raw: string(b)})
		w.mu.Unlock()
	}
	return w.next.RoundTrip(req)
}

func (w *wire) all() []posted {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.posts)
}

// startPresenter is startServer with the wallet's outbound client wrapped
// by a wire recorder (the same SSRF-guarded client the wallet uses by
// default).
func startPresenter(t *testing.T) (*server, *wire) {
	t.Helper()
	return startPresenterWith(t, nil)
}

// startPresenterWith is startPresenter with the wallet's options changed
// by opt.
func startPresenterWith(t *testing.T, opt func(*walletapi.Options)) (*server, *wire) {
	t.Helper()
	mk, _, err := keys.LoadMasterKey(testMasterKey, "")
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := keys.NewSealer(mk, "wallet/account-key")
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	hc := walletapi.NewHTTPClient(10*time.Second, true)
	rec := &wire{next: hc.Transport}
	hc.Transport = rec
	store, err := boltkv.OpenWith(filepath.Join(t.TempDir(), "wallet.db"), boltkv.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	opts := walletapi.Options{
		AllowHTTPLoopback: true, Logger: log, ClientRate: 1000, ClientBurst: 1000,
		PasswordParams: walletapi.Argon2Params{Time: 1, Memory: 64, Threads: 1},
		BackupParams:   walletapi.Argon2Params{Time: 1, Memory: 64, Threads: 1},
	}
	if opt != nil {
		opt(&opts)
	}
	w, err := walletapi.New(store, sealer, issuerApp.App.Resolver, hc, opts)
	if err != nil {
		t.Fatal(err)
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = httpx.ErrorHandler(log)
	e.Use(middleware.RequestID(), middleware.Recover(), middleware.BodyLimit("1M"))
	w.Register(e.Group(""))
	hs := httptest.NewServer(e)
	t.Cleanup(hs.Close)
	return &server{URL: hs.URL, Issuer: issuerApp.URL, Admin: issuerApp.Admin, Wallet: w, Echo: e}, rec
}

// receive accepts an offer of cfg from the real issuer and returns the
// stored credential's id.
func receive(t *testing.T, s *server, tok, cfg string) string {
	t.Helper()
	_, _, byValue := offer(t, s, cfg, false)
	link := "openid-credential-offer://?credential_offer=" + url.QueryEscape(string(byValue))
	code, acc := call(t, "POST", s.URL+"/wallet/offers", tok, map[string]any{"offer": link, "accept": true})
	expect(t, "accept "+cfg, code, acc, 201)
	return acc["credentials"].([]any)[0].(map[string]any)["id"].(string)
}

// verifierSession creates a presentation session at the real verifier.
func verifierSession(t *testing.T, s *server, body map[string]any) (id, link string) {
	t.Helper()
	code, out := call(t, "POST", s.Issuer+"/verifier/sessions", s.Admin, body)
	expect(t, "create verifier session", code, out, 201)
	return out["id"].(string), out["authorization_request"].(string)
}

func sessionStatus(t *testing.T, s *server, id string) map[string]any {
	t.Helper()
	code, out := call(t, "GET", s.Issuer+"/verifier/sessions/"+id, s.Admin, nil)
	expect(t, "session status", code, out, 200)
	return out
}

// disclosedNames returns the claim names of the disclosures of an SD-JWT
// presentation and its issuer-signed JWT.
func disclosedNames(t *testing.T, presentation string) (names []string, issuerJWT string) {
	t.Helper()
	parts := strings.Split(presentation, "~")
	for _, d := range parts[1 : len(parts)-1] {
		b, err := base64.RawURLEncoding.DecodeString(d)
		if err != nil {
			t.Fatalf("disclosure %q: %v", d, err)
		}
		var arr []any
		if err := json.Unmarshal(b, &arr); err != nil {
			t.Fatal(err)
		}
		if len(arr) == 3 {
			names = append(names, arr[1].(string))
		} else {
			names = append(names, "[element]")
		}
	}
	slices.Sort(names)
	return names, parts[0]
}

// vpTokenOf decodes the vp_token of a direct_post form.
func vpTokenOf(t *testing.T, p posted) map[string][]string {
	t.Helper()
	var tok map[string][]string
	if err := json.Unmarshal([]byte(p.Form.Get("vp_token")), &tok); err != nil {
		t.Fatalf("vp_token on the wire: %v (%q)", err, p.Raw)
	}
	return tok
}

// The whole flow against the real issuer and verifier: receive, preview,
// present only what the patient chose, and check it on the wire and at
// the verifier; then the copies, the history and a replay.
func TestPresentToOurVerifierEndToEnd(t *testing.T) {
	s, rec := startPresenter(t)
	tok := signUp(t, s, "ada")
	credID := receive(t, s, tok, sdjwtCfg)

	sid, link := verifierSession(t, s, map[string]any{"template": "patient-identity", "purpose": "Check in at the clinic"})
	code, p := call(t, "POST", s.URL+"/wallet/presentations/preview", tok, map[string]any{"request": link})
	expect(t, "preview", code, p, 200)
	clientID, _ := p["client_id"].(string)
	if !strings.HasPrefix(clientID, "decentralized_identifier:did:medid:") || p["client_id_prefix"] != "decentralized_identifier" ||
		!strings.HasPrefix(p["signed_by"].(string), strings.TrimPrefix(clientID, "decentralized_identifier:")+"#") ||
		p["purpose"] != "Check in at the clinic" || p["client_name"] != "medid verifier" || p["satisfiable"] != true ||
		p["response_mode"] != "direct_post" || p["dcql_query"] == nil {
		t.Fatalf("preview: %v", p)
	}
	qs := p["credentials"].([]any)
	q0 := qs[0].(map[string]any)
	if len(qs) != 1 || q0["id"] != "patient_identity" || q0["requested"] != true {
		t.Fatalf("preview credentials: %v", qs)
	}
	ms := q0["matches"].([]any)
	m0 := ms[0].(map[string]any)
	if len(ms) != 1 || m0["credential_id"] != credID || m0["unused_copies"] != json.Number("3") || m0["selective_disclosure"] != true {
		t.Fatalf("matches: %v", ms)
	}
	js := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	if d := js(m0["disclose"]); d != `[["given_name"],["family_name"],["birthdate"]]` {
		t.Fatalf("disclose: %s", d)
	}
	if d := js(m0["selectable"]); d != `[["given_name"],["family_name"],["birthdate"]]` {
		t.Fatalf("selectable: %s", d)
	}
	if d := js(m0["always_disclosed"]); d != `["assurance_level"]` {
		t.Fatalf("always disclosed: %s", d)
	}
	if n := len(rec.all()); n != 0 {
		t.Fatalf("a preview posted %d responses", n)
	}
	if st := sessionStatus(t, s, sid); st["status"] != "pending" {
		t.Fatalf("after preview: %v", st)
	}

	// The patient chooses the given name and birthdate only.
	choice := map[string]any{"patient_identity": map[string]any{"credential_id": credID,
		"claims": []any{[]any{"given_name"}, []any{"birthdate"}}}}
	code, res := call(t, "POST", s.URL+"/wallet/presentations", tok, map[string]any{"request": link, "choices": choice})
	expect(t, "present", code, res, 200)
	pr := res["presented"].([]any)
	if res["client_id"] != clientID || res["copy_reused"] != false || len(pr) != 1 {
		t.Fatalf("present: %v", res)
	}
	if p0 := pr[0].(map[string]any); p0["query_id"] != "patient_identity" || p0["credential_id"] != credID ||
		p0["name"] == "" || js(p0["claims"]) != `[["given_name"],["birthdate"]]` || p0["copy_reused"] != false {
		t.Fatalf("presented: %v", p0)
	}
	st := sessionStatus(t, s, sid)
	if st["status"] != "verified" {
		t.Fatalf("session: %v", st)
	}
	got := st["credentials"].(map[string]any)["patient_identity"].([]any)[0].(map[string]any)["claims"].(map[string]any)
	if got["given_name"] != "Ada" || got["birthdate"] != "1990-12-10" {
		t.Fatalf("verified claims: %v", got)
	}
	for _, unchosen := range []string{"family_name", "gender", "identifiers"} {
		if _, ok := got[unchosen]; ok {
			t.Errorf("the verifier saw %s, which the patient did not choose", unchosen)
		}
	}

	// On the wire: one direct_post with only the chosen disclosures, and
	// not a byte of the family name.
	posts := rec.all()
	if len(posts) != 1 || posts[0].Form.Get("state") == "" {
		t.Fatalf("posts: %d", len(posts))
	}
	vp := vpTokenOf(t, posts[0])["patient_identity"]
	if len(vp) != 1 {
		t.Fatalf("vp_token: %v", vp)
	}
	names, firstJWT := disclosedNames(t, vp[0])
	if js(names) != `["birthdate","given_name"]` {
		t.Fatalf("disclosures on the wire: %v", names)
	}
	for _, secret := range []string{"Lovelace", "MRN-0042", "female"} {
		if strings.Contains(posts[0].Raw, secret) || strings.Contains(posts[0].Raw, base64.RawURLEncoding.EncodeToString([]byte(secret))) {
			t.Fatalf("%q is on the wire", secret)
		}
	}

	// Defaults: what the query requires (its first claim set), from a
	// fresh copy each time; once the copies are used up, a used one is
	// reused and the answer says so.
	jwts := []string{firstJWT}
	for i, wantUnused := range []string{"2", "1", "0"} {
		sid, link := verifierSession(t, s, map[string]any{"template": "patient-identity", "purpose": "Again"})
		code, p := call(t, "POST", s.URL+"/wallet/presentations/preview", tok, map[string]any{"request": link})
		expect(t, "preview", code, p, 200)
		m := p["credentials"].([]any)[0].(map[string]any)["matches"].([]any)[0].(map[string]any)
		if m["unused_copies"] != json.Number(wantUnused) {
			t.Fatalf("presentation %d: unused copies %v, want %s", i+2, m["unused_copies"], wantUnused)
		}
		code, res := call(t, "POST", s.URL+"/wallet/presentations", tok, map[string]any{"request": link})
		expect(t, "present with defaults", code, res, 200)
		if reused := wantUnused == "0"; res["copy_reused"] != reused {
			t.Fatalf("presentation %d: copy_reused %v", i+2, res["copy_reused"])
		}
		if st := sessionStatus(t, s, sid); st["status"] != "verified" {
			t.Fatalf("session %d: %v", i+2, st)
		}
		posts := rec.all()
		names, jwt := disclosedNames(t, vpTokenOf(t, posts[len(posts)-1])["patient_identity"][0])
		if js(names) != `["birthdate","family_name","given_name"]` {
			t.Fatalf("default disclosures: %v", names)
		}
		jwts = append(jwts, jwt)
	}
	// Three copies, three different credentials (unlinkable); the fourth
	// presentation reused one of them.
	if jwts[0] == jwts[1] || jwts[1] == jwts[2] || jwts[0] == jwts[2] || !slices.Contains(jwts[:3], jwts[3]) {
		t.Fatal("copies were not used once each before one was reused")
	}

	// The history: to whom, when, which claim names, never values: the
	// ones chosen, then assurance_level, which the credential's
	// issuer-signed payload shows to every verifier.
	code, h := call(t, "GET", s.URL+"/wallet/presentations", tok, nil)
	expect(t, "presentations", code, h, 200)
	list := h["presentations"].([]any)
	if len(list) != 4 {
		t.Fatalf("presentations: %v", list)
	}
	oldest := list[3].(map[string]any)
	if oldest["client_id"] != clientID || oldest["outcome"] != "accepted" || oldest["purpose"] != "Check in at the clinic" ||
		js(oldest["credentials"].([]any)[0].(map[string]any)["claims"]) != `["given_name","birthdate","assurance_level"]` ||
		list[0].(map[string]any)["credentials"].([]any)[0].(map[string]any)["copy_reused"] != true {
		t.Fatalf("presentation history: %v", list)
	}
	code, raw := callRaw(t, "GET", s.URL+"/wallet/presentations", tok, nil)
	if code != 200 || bytes.Contains(raw, []byte("Ada")) || bytes.Contains(raw, []byte("1990-12-10")) {
		t.Fatalf("history holds claim values: %s", raw)
	}
	code, hist := call(t, "GET", s.URL+"/wallet/history", tok, nil)
	expect(t, "history", code, hist, 200)
	if e := hist["history"].([]any)[0].(map[string]any); e["event"] != walletapi.EventPresentationSent || e["credential_id"] != credID {
		t.Fatalf("history: %v", hist)
	}

	// A request already answered: the verifier no longer serves it, and
	// nothing more is posted.
	n := len(rec.all())
	code, out := call(t, "POST", s.URL+"/wallet/presentations", tok, map[string]any{"request": link, "choices": choice})
	expect(t, "replay", code, out, 502)
	if !strings.HasSuffix(out["type"].(string), "#verifier-error") || len(rec.all()) != n {
		t.Fatalf("replay: %v", out)
	}
}

// direct_post.jwt (encrypted to the session's key), request_uri_method
// post (wallet_nonce), and a jwt_vc_json credential presented as a JWT VP.
func TestPresentEncryptedPostAndJWTVC(t *testing.T) {
	s, rec := startPresenter(t)
	tok := signUp(t, s, "grace")
	receive(t, s, tok, sdjwtCfg)

	sid, link := verifierSession(t, s, map[string]any{"template": "patient-identity", "purpose": "Encrypted",
		"response_mode": "direct_post.jwt", "request_uri_method": "post"})
	if !strings.Contains(link, "request_uri_method=post") {
		t.Fatalf("link %s", link)
	}
	code, res := call(t, "POST", s.URL+"/wallet/presentations", tok, map[string]any{"request": link,
		"choices": map[string]any{"patient_identity": map[string]any{"claims": []any{[]any{"family_name"}, []any{"birthdate"}}}}})
	expect(t, "present direct_post.jwt", code, res, 200)
	st := sessionStatus(t, s, sid)
	if st["status"] != "verified" {
		t.Fatalf("session: %v", st)
	}
	got := st["credentials"].(map[string]any)["patient_identity"].([]any)[0].(map[string]any)["claims"].(map[string]any)
	if got["family_name"] != "Lovelace" || got["given_name"] != nil {
		t.Fatalf("claims: %v", got)
	}
	posts := rec.all()
	if len(posts) != 1 || len(posts[0].Form) != 1 || strings.Count(posts[0].Form.Get("response"), ".") != 4 {
		t.Fatalf("the response was not a lone JWE: %v", posts[0].Form)
	}

	// jwt_vc_json: a DCQL query of our own, answered with a JWT VP. (It
	// names no claims: our verifier applies W3C claim paths to the
	// credentialSubject, where OpenID4VP applies them to the credential,
	// so ["credentialSubject", "given_name"] would not satisfy it.)
	jid := receive(t, s, tok, jwtCfg)
	sid, link = verifierSession(t, s, map[string]any{"purpose": "JWT VC", "dcql_query": map[string]any{
		"credentials": []any{map[string]any{"id": "pid", "format": "jwt_vc_json",
			"meta": map[string]any{"type_values": []any{[]any{"PatientIdentityCredential"}}}}}}})
	code, p := call(t, "POST", s.URL+"/wallet/presentations/preview", tok, map[string]any{"request": link})
	expect(t, "preview jwt_vc_json", code, p, 200)
	m := p["credentials"].([]any)[0].(map[string]any)["matches"].([]any)
	if len(m) != 1 || m[0].(map[string]any)["credential_id"] != jid || m[0].(map[string]any)["selective_disclosure"] != false {
		t.Fatalf("jwt_vc_json matches: %v", m)
	}
	// It cannot disclose some claims only: choosing is refused, nothing sent.
	n := len(rec.all())
	code, out := call(t, "POST", s.URL+"/wallet/presentations", tok, map[string]any{"request": link,
		"choices": map[string]any{"pid": map[string]any{"claims": []any{}}}})
	expect(t, "choose claims of a jwt_vc_json", code, out, 400)
	if len(rec.all()) != n {
		t.Fatal("a refused choice was sent")
	}
	code, res = call(t, "POST", s.URL+"/wallet/presentations", tok, map[string]any{"request": link})
	expect(t, "present jwt_vc_json", code, res, 200)
	if st := sessionStatus(t, s, sid); st["status"] != "verified" {
		t.Fatalf("jwt_vc_json session: %v", st)
	}
}

// A verifier whose request object is not signed by the DID it names is
// refused before anything is shown: a request object signed by another
// key under the real verifier's kid, served by a fake verifier.
func TestUntrustedVerifierRefusedBeforeAnythingIsShown(t *testing.T) {
	s, rec := startPresenter(t)
	tok := signUp(t, s, "eve-target")
	receive(t, s, tok, sdjwtCfg)
	sid, link := verifierSession(t, s, map[string]any{"template": "patient-identity", "purpose": "Genuine"})
	l, _ := url.Parse(link)
	clientID, requestURI := l.Query().Get("client_id"), l.Query().Get("request_uri")
	resp, err := http.Get(requestURI)
	if err != nil {
		t.Fatal(err)
	}
	genuine, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	parts := strings.Split(string(genuine), ".")
	if len(parts) != 3 {
		t.Fatalf("request object: %s", genuine)
	}
	hb, _ := base64.RawURLEncoding.DecodeString(parts[0])
	var hdr map[string]any
	json.Unmarshal(hb, &hdr)
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var claims map[string]any
	json.Unmarshal(payload, &claims)

	attacker, err := keys.Generate(keys.ES256)
	if err != nil {
		t.Fatal(err)
	}
	sign := func(header map[string]any, body []byte) string {
		h := jws.NewHeaders()
		for k, v := range header {
			if k != "alg" {
				h.Set(k, v)
			}
		}
		out, err := jws.Sign(body, jws.WithKey(jwa.ES256(), attacker.Signer(), jws.WithProtectedHeaders(h)))
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	var fakeHits, fakePosts int
	var served string
	var mu sync.Mutex
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.Method == http.MethodPost && r.URL.Path != "/request" {
			fakePosts++
		}
		fakeHits++
		w.Header().Set("Content-Type", "application/oauth-authz-req+jwt")
		io.WriteString(w, served)
	}))
	defer fake.Close()
	fakeLink := "openid4vp://?" + url.Values{"client_id": {clientID}, "request_uri": {fake.URL + "/request"}}.Encode()

	// The attacker's own response URI, to be sure nothing reaches it.
	claims["response_uri"] = fake.URL + "/responses/x"
	evil, _ := json.Marshal(claims)
	otherDID := func() map[string]any {
		j, _ := attacker.PublicJWKJSON()
		h := map[string]any{"typ": "oauth-authz-req+jwt", "kid": "did:jwk:" + base64.RawURLEncoding.EncodeToString(j) + "#0"}
		return h
	}
	noneAlg := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"oauth-authz-req+jwt","kid":"`+hdr["kid"].(string)+`"}`)) +
		"." + base64.RawURLEncoding.EncodeToString(evil) + "."
	for _, tc := range []struct{ name, object string }{
		{"same kid, another key", sign(hdr, evil)},
		{"same kid, another key, genuine payload", sign(hdr, payload)},
		{"kid of another DID", sign(otherDID(), evil)},
		{"alg none", noneAlg},
		{"genuine signature over a changed payload", parts[0] + "." + base64.RawURLEncoding.EncodeToString(evil) + "." + parts[2]},
	} {
		mu.Lock()
		served = tc.object
		mu.Unlock()
		for _, path := range []string{"/wallet/presentations/preview", "/wallet/presentations"} {
			code, out := call(t, "POST", s.URL+path, tok, map[string]any{"request": fakeLink})
			if code != 422 || !strings.HasSuffix(out["type"].(string), "#untrusted-verifier") {
				t.Fatalf("%s, %s: %d %v", tc.name, path, code, out)
			}
			for _, k := range []string{"purpose", "credentials", "client_name", "dcql_query"} {
				if _, ok := out[k]; ok {
					t.Fatalf("%s: the refusal shows %s", tc.name, k)
				}
			}
			if strings.Contains(out["detail"].(string), "Genuine") {
				t.Fatalf("%s: the refusal shows the purpose", tc.name)
			}
		}
	}
	if fakeHits == 0 || fakePosts != 0 || len(rec.all()) != 0 {
		t.Fatalf("fake verifier: %d fetches, %d posts; wallet posted %d responses", fakeHits, fakePosts, len(rec.all()))
	}
	if st := sessionStatus(t, s, sid); st["status"] != "pending" {
		t.Fatalf("the genuine session changed: %v", st)
	}
	// The genuine link still previews (the control).
	code, out := call(t, "POST", s.URL+"/wallet/presentations/preview", tok, map[string]any{"request": link})
	expect(t, "genuine preview", code, out, 200)
}

func TestBadPresentationRequests(t *testing.T) {
	s, rec := startPresenter(t)
	tok := signUp(t, s, "mallory")
	credID := receive(t, s, tok, sdjwtCfg)
	_, link := verifierSession(t, s, map[string]any{"template": "patient-identity", "purpose": "Bad inputs"})
	byValue := func(responseURI string) string {
		return "openid4vp://?" + url.Values{"client_id": {"redirect_uri:" + responseURI}, "response_type": {"vp_token"},
			"response_mode": {"direct_post"}, "response_uri": {responseURI}, "nonce": {"n-123"},
			"dcql_query": {`{"credentials":[{"id":"x","format":"dc+sd-jwt","meta":{"vct_values":["https://x.example/t"]}}]}`}}.Encode()
	}
	for _, tc := range []struct {
		name string
		path string
		body any
		want int
		kind string
	}{
		{"empty", "/preview", map[string]any{"request": ""}, 400, "invalid-request"},
		{"not a link", "/preview", map[string]any{"request": "hello"}, 400, "invalid-request"},
		{"wrong scheme", "/preview", map[string]any{"request": "https://verifier.example/?client_id=x"}, 400, "invalid-request"},
		{"unsigned by value, DID client", "/preview", map[string]any{"request": "openid4vp://?client_id=decentralized_identifier%3Adid%3Aexample%3A1&response_type=vp_token"}, 400, "invalid-request"},
		{"unknown member", "/preview", map[string]any{"request": link, "x": 1}, 400, "invalid-request"},
		{"plain http response_uri", "/preview", map[string]any{"request": byValue("http://verifier.example/r")}, 422, "insecure-url"},
		{"unsupported prefix by reference", "/preview", map[string]any{"request": "openid4vp://?client_id=verifier_attestation%3Av.example&request_uri=https%3A%2F%2Fv.example%2Fr"}, 422, "unsupported-request"},
		{"no match", "", map[string]any{"request": byValue("https://verifier.example/r")}, 422, "no-matching-credential"},
		{"choice for an unknown query", "", map[string]any{"request": link, "choices": map[string]any{"nope": map[string]any{}}}, 400, "invalid-request"},
		{"unknown credential", "", map[string]any{"request": link, "choices": map[string]any{"patient_identity": map[string]any{"credential_id": "nope"}}}, 400, "invalid-request"},
		{"claim not requested", "", map[string]any{"request": link, "choices": map[string]any{"patient_identity": map[string]any{"credential_id": credID, "claims": []any{[]any{"gender"}}}}}, 400, "invalid-request"},
		{"empty path (would disclose all)", "", map[string]any{"request": link, "choices": map[string]any{"patient_identity": map[string]any{"claims": []any{[]any{}}}}}, 400, "invalid-request"},
		{"wildcard path", "", map[string]any{"request": link, "choices": map[string]any{"patient_identity": map[string]any{"claims": []any{[]any{nil}}}}}, 400, "invalid-request"},
		{"not enough", "", map[string]any{"request": link, "choices": map[string]any{"patient_identity": map[string]any{"claims": []any{[]any{"given_name"}}}}}, 422, "choice-not-sufficient"},
		{"nothing chosen", "", map[string]any{"request": link, "choices": map[string]any{"patient_identity": map[string]any{"claims": []any{}}}}, 422, "choice-not-sufficient"},
	} {
		code, out := call(t, "POST", s.URL+"/wallet/presentations"+tc.path, tok, tc.body)
		if code != tc.want || !strings.HasSuffix(out["type"].(string), "#"+tc.kind) {
			t.Errorf("%s: %d %v, want %d %s", tc.name, code, out, tc.want, tc.kind)
		}
	}
	if n := len(rec.all()); n != 0 {
		t.Fatalf("%d responses posted for bad requests", n)
	}
	// Without a session: 401; another account sees none of this one's
	// credentials or presentations.
	code, out := call(t, "POST", s.URL+"/wallet/presentations/preview", "", map[string]any{"request": link})
	expect(t, "no session", code, out, 401)
	other := signUp(t, s, "trudy")
	code, p := call(t, "POST", s.URL+"/wallet/presentations/preview", other, map[string]any{"request": link})
	expect(t, "other account preview", code, p, 200)
	if p["satisfiable"] != false || len(p["credentials"].([]any)[0].(map[string]any)["matches"].([]any)) != 0 {
		t.Fatalf("another account's preview: %v", p)
	}
	code, out = call(t, "POST", s.URL+"/wallet/presentations", other, map[string]any{"request": link,
		"choices": map[string]any{"patient_identity": map[string]any{"credential_id": credID}}})
	if code != 422 && code != 400 {
		t.Fatalf("presenting another account's credential: %d %v", code, out)
	}
	if n := len(rec.all()); n != 0 {
		t.Fatalf("%d responses posted", n)
	}
}
