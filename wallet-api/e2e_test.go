package walletapi_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/medid/medid/internal/app"
	"github.com/medid/medid/internal/config"
	"github.com/medid/medid/internal/httpx"
	"github.com/medid/medid/internal/keys"
	"github.com/medid/medid/internal/kv/boltkv"
	walletapi "github.com/medid/medid/wallet-api"
)

// issuerApp is medid (the real issuer, registry and resolver) started
// in-process once for the package by TestMain, the way test/e2e starts it.
var issuerApp struct {
	URL   string
	Admin string
	App   *app.App
}

// server is a wallet under test, served on its own listener with the same
// error renderer as medid's server, and the shared issuer.
type server struct {
	URL    string // the wallet
	Issuer string // medid: issuer, registry, resolver
	Admin  string
	Wallet *walletapi.Service
	Echo   *echo.Echo
}

// testMasterKey is a fixed master key for the wallet's sealer.
var testMasterKey = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))

func TestMain(m *testing.M) {
	stop, err := startIssuer()
	if err != nil {
		fmt.Fprintln(os.Stderr, "start medid:", err)
		os.Exit(1)
	}
	code := m.Run()
	stop()
	os.Exit(code)
}

// startIssuer is the minimal part of test/e2e's helper: medid serve on a
// loopback port over a fresh data directory.
func startIssuer() (func(), error) {
	dir, err := os.MkdirTemp("", "walletapi-e2e-")
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	cfg := &config.Config{Addr: l.Addr().String(), DataDir: filepath.Join(dir, "data"), LogLevel: "warn"}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	a, err := app.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), app.Options{})
	if err != nil {
		l.Close()
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, l) }()
	issuerApp.URL, issuerApp.Admin, issuerApp.App = "http://"+l.Addr().String(), a.AdminToken(), a
	stop := func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
		}
		os.RemoveAll(dir)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(issuerApp.URL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return stop, nil
			}
		}
		if time.Now().After(deadline) {
			stop()
			return nil, errors.New("medid not ready within 10 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startServer starts a wallet over the shared medid's store and resolver,
// registered on an echo server configured as internal/app configures its
// own.
func startServer(t *testing.T, opts walletapi.Options) *server {
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
	opts.AllowHTTPLoopback = true
	opts.Logger = log
	opts.RegistrarURL = issuerApp.URL
	if opts.ClientRate == 0 {
		opts.ClientRate, opts.ClientBurst = 1000, 1000
	}
	// Cheap argon2id in tests; production uses the defaults.
	opts.PasswordParams = walletapi.Argon2Params{Time: 1, Memory: 64, Threads: 1}
	opts.BackupParams = walletapi.Argon2Params{Time: 1, Memory: 64, Threads: 1}
	// Each test's accounts in a store of their own.
	store, err := boltkv.OpenWith(filepath.Join(t.TempDir(), "wallet.db"), boltkv.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	w, err := walletapi.New(store, sealer, issuerApp.App.Resolver, nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.IPExtractor = echo.ExtractIPDirect()
	e.HTTPErrorHandler = httpx.ErrorHandler(log)
	e.Use(middleware.RequestID(), middleware.Recover(), middleware.BodyLimit("1M"))
	w.Register(e.Group(""))
	hs := httptest.NewServer(e)
	t.Cleanup(hs.Close)
	return &server{URL: hs.URL, Issuer: issuerApp.URL, Admin: issuerApp.Admin, Wallet: w, Echo: e}
}

// call makes a JSON request and decodes the answer into a map.
func call(t *testing.T, method, u, token string, body any) (int, map[string]any) {
	t.Helper()
	code, raw := callRaw(t, method, u, token, body)
	var out map[string]any
	if len(raw) > 0 {
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		if err := d.Decode(&out); err != nil {
			t.Fatalf("%s %s: %d, not JSON: %s", method, u, code, raw)
		}
	}
	return code, out
}

// setIssuerStatus has the issuer apply action (suspend, reinstate,
// revoke) to every credential it issued whose first Bitstring Status List
// entry is in entries (keyed "<list>#<index>#<purpose>"), and returns how
// many it changed.
func setIssuerStatus(t *testing.T, s *server, entries map[string]bool, action string) int {
	t.Helper()
	code, raw := callRaw(t, "GET", s.Issuer+"/issuer/credentials", s.Admin, nil)
	if code != 200 {
		t.Fatalf("issuer records: %d", code)
	}
	var recs struct {
		Credentials []struct {
			ID        string `json:"id"`
			Bitstring []struct {
				Purpose, List string
				Index         int
			} `json:"bitstring_status"`
		} `json:"credentials"`
	}
	if err := json.Unmarshal(raw, &recs); err != nil {
		t.Fatalf("issuer records: %v", err)
	}
	n := 0
	for _, r := range recs.Credentials {
		if len(r.Bitstring) > 0 && entries[fmt.Sprintf("%s#%d#%s", r.Bitstring[0].List, r.Bitstring[0].Index, r.Bitstring[0].Purpose)] {
			code, out := call(t, "POST", s.Issuer+"/issuer/credentials/"+url.PathEscape(r.ID)+"/status", s.Admin, map[string]any{"action": action})
			expect(t, action, code, out, 200)
			n++
		}
	}
	return n
}

func callRaw(t *testing.T, method, u, token string, body any) (int, []byte) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, u, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 400 && !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json") {
		t.Fatalf("%s %s: %d with content type %q, want problem+json: %s", method, u, resp.StatusCode, resp.Header.Get("Content-Type"), raw)
	}
	return resp.StatusCode, raw
}

func expect(t *testing.T, what string, code int, out map[string]any, want int) {
	t.Helper()
	if code != want {
		t.Fatalf("%s: status %d, want %d: %v", what, code, want, out)
	}
}

// signUp creates an account and signs in; it returns the session token.
func signUp(t *testing.T, s *server, username string) string {
	t.Helper()
	creds := map[string]string{"username": username, "password": "correct horse battery"}
	code, out := call(t, "POST", s.URL+"/wallet/accounts", "", creds)
	expect(t, "create account", code, out, 201)
	code, out = call(t, "POST", s.URL+"/wallet/sessions", "", creds)
	expect(t, "sign in", code, out, 201)
	tok, _ := out["token"].(string)
	if tok == "" || out["expires_at"] == nil {
		t.Fatalf("session: %v", out)
	}
	return tok
}

const patientClaims = `{
	"given_name": "Ada", "family_name": "Lovelace", "birthdate": "1990-12-10", "gender": "female",
	"identifiers": [{"system": "https://hospital.example/mrn", "value": "MRN-0042", "type": "MRN"}],
	"assurance_level": "substantial"}`

// offer creates an offer at the real issuer through its admin API.
func offer(t *testing.T, s *server, cfg string, txCode bool) (link, tx string, credentialOffer json.RawMessage) {
	t.Helper()
	var claims map[string]any
	if err := json.Unmarshal([]byte(patientClaims), &claims); err != nil {
		t.Fatal(err)
	}
	code, raw := callRaw(t, "POST", s.Issuer+"/issuer/offers", s.Admin, map[string]any{
		"credential_configuration_ids": []string{cfg}, "claims": claims, "tx_code": txCode})
	if code != 201 {
		t.Fatalf("create offer: %d %s", code, raw)
	}
	var o struct {
		OfferURI        string          `json:"offer_uri"`
		TxCode          string          `json:"tx_code"`
		CredentialOffer json.RawMessage `json:"credential_offer"`
	}
	if err := json.Unmarshal(raw, &o); err != nil {
		t.Fatal(err)
	}
	return o.OfferURI, o.TxCode, o.CredentialOffer
}

const sdjwtCfg = "PatientIdentityCredential_dc+sd-jwt"
const jwtCfg = "PatientIdentityCredential_jwt_vc_json"

func TestReceiveFromOurIssuerEndToEnd(t *testing.T) {
	// Status lists are fetched on every list here, so that changes show at
	// once; TestStatusListsFetchedOncePerList covers the cache.
	s := startServer(t, walletapi.Options{StatusTTL: time.Nanosecond, StatusMaxStale: time.Nanosecond})
	tok := signUp(t, s, "ada")
	link, tx, _ := offer(t, s, sdjwtCfg, true)

	// Preview: what is offered, and that a transaction code is needed.
	code, p := call(t, "POST", s.URL+"/wallet/offers", tok, map[string]any{"offer": link})
	expect(t, "preview", code, p, 200)
	if p["credential_issuer"] != s.Issuer || p["tx_code_required"] != true || p["copies"] != json.Number("3") {
		t.Fatalf("preview: %v", p)
	}
	creds := p["credentials"].([]any)
	c0 := creds[0].(map[string]any)
	if len(creds) != 1 || c0["credential_configuration_id"] != sdjwtCfg || c0["name"] == "" || c0["supported"] != true ||
		len(c0["claims"].([]any)) == 0 || c0["format"] != "dc+sd-jwt" {
		t.Fatalf("preview credentials: %v", creds)
	}
	// Nothing is stored by a preview.
	code, l := call(t, "GET", s.URL+"/wallet/credentials", tok, nil)
	expect(t, "list", code, l, 200)
	if n := len(l["credentials"].([]any)); n != 0 {
		t.Fatalf("after preview: %d credentials", n)
	}

	// Accepting without the transaction code is refused before the offer
	// is spent; a malformed one too.
	code, out := call(t, "POST", s.URL+"/wallet/offers", tok, map[string]any{"offer": link, "accept": true})
	expect(t, "accept without tx_code", code, out, 400)
	if out["field"] != "tx_code" {
		t.Fatalf("field: %v", out)
	}
	code, out = call(t, "POST", s.URL+"/wallet/offers", tok, map[string]any{"offer": link, "accept": true, "tx_code": "12ab56"})
	expect(t, "non-numeric tx_code", code, out, 400)

	code, acc := call(t, "POST", s.URL+"/wallet/offers", tok, map[string]any{"offer": link, "accept": true, "tx_code": tx})
	expect(t, "accept", code, acc, 201)
	got := acc["credentials"].([]any)
	if len(got) != 1 {
		t.Fatalf("accepted: %v", acc)
	}
	cred := got[0].(map[string]any)
	if cred["copies"] != json.Number("3") || cred["status"] != "valid" || !strings.HasPrefix(cred["issuer"].(string), "did:medid:") ||
		cred["format"] != "dc+sd-jwt" || cred["credential_issuer"] != s.Issuer {
		t.Fatalf("stored credential: %v", cred)
	}
	id := cred["id"].(string)

	// Replaying the offer fails cleanly: the issuer no longer serves it.
	code, out = call(t, "POST", s.URL+"/wallet/offers", tok, map[string]any{"offer": link, "accept": true, "tx_code": tx})
	expect(t, "replay", code, out, 422)
	if !strings.HasSuffix(out["type"].(string), "#offer-unavailable") {
		t.Fatalf("replay problem: %v", out)
	}

	// The list shows it, valid, with display metadata; the detail has the
	// claims and one did:jwk per copy, all different (unlinkable copies).
	code, l = call(t, "GET", s.URL+"/wallet/credentials", tok, nil)
	expect(t, "list", code, l, 200)
	list := l["credentials"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["status"] != "valid" || list[0].(map[string]any)["display"] == nil {
		t.Fatalf("list: %v", l)
	}
	code, d := call(t, "GET", s.URL+"/wallet/credentials/"+id, tok, nil)
	expect(t, "detail", code, d, 200)
	claims := d["claims"].(map[string]any)
	if claims["given_name"] != "Ada" || claims["family_name"] != "Lovelace" || claims["cnf"] != nil || claims["status"] != nil {
		t.Fatalf("claims: %v", claims)
	}
	holders := d["holder_dids"].([]any)
	if len(holders) != 3 || holders[0] == holders[1] || holders[1] == holders[2] || !strings.HasPrefix(holders[0].(string), "did:jwk:") {
		t.Fatalf("holder DIDs: %v", holders)
	}

	// A jwt_vc_json credential, offered by value (no tx_code).
	_, _, byValue := offer(t, s, jwtCfg, false)
	link2 := "openid-credential-offer://?credential_offer=" + url.QueryEscape(string(byValue))
	code, acc = call(t, "POST", s.URL+"/wallet/offers", tok, map[string]any{"offer": link2, "accept": true})
	expect(t, "accept jwt_vc_json by value", code, acc, 201)
	jc := acc["credentials"].([]any)[0].(map[string]any)
	if jc["format"] != "jwt_vc_json" || jc["type"] != "PatientIdentityCredential" || jc["status"] != "valid" {
		t.Fatalf("jwt_vc_json: %v", jc)
	}
	// Its copies carry Bitstring Status List entries, which the wallet
	// follows too: the issuer suspends, then revokes.
	jid := jc["id"].(string)
	code, jd := call(t, "GET", s.URL+"/wallet/credentials/"+jid, tok, nil)
	expect(t, "jwt_vc_json detail", code, jd, 200)
	want := map[string]bool{}
	for _, e := range jd["status_entries"].([]any) {
		e := e.(map[string]any)
		if e["type"] != "bitstring" {
			t.Fatalf("status entry %v", e)
		}
		want[e["uri"].(string)+"#"+e["idx"].(json.Number).String()+"#"+e["purpose"].(string)] = true
	}
	if len(want) != 6 {
		t.Fatalf("status entries: %v", jd["status_entries"])
	}
	changeJWT := func(action, wantStatus string) {
		t.Helper()
		n := setIssuerStatus(t, s, want, action)
		if n != 3 {
			t.Fatalf("%d issuer records of the jwt_vc_json copies, want 3", n)
		}
		code, d := call(t, "GET", s.URL+"/wallet/credentials/"+jid, tok, nil)
		expect(t, "jwt_vc_json detail", code, d, 200)
		if d["status"] != wantStatus {
			t.Fatalf("after %s: %v (%v)", action, d["status"], d["status_error"])
		}
	}
	changeJWT("suspend", "suspended")
	changeJWT("revoke", "revoked")

	// Replayed by value: the issuer refuses the spent code.
	code, out = call(t, "POST", s.URL+"/wallet/offers", tok, map[string]any{"offer": link2, "accept": true})
	expect(t, "replay by value", code, out, 422)
	if !strings.HasSuffix(out["type"].(string), "#offer-rejected") {
		t.Fatalf("replay by value problem: %v", out)
	}

	// The issuer suspends, then revokes, the SD-JWT VC: the wallet shows it.
	entries := d["status_entries"].([]any)
	if len(entries) != 3 {
		t.Fatalf("status entries: %v", d["status_entries"])
	}
	setStatus := func(action string) {
		t.Helper()
		for _, e := range entries {
			e := e.(map[string]any)
			code, raw := callRaw(t, "GET", s.Issuer+"/issuer/credentials?status_index="+e["idx"].(json.Number).String(), s.Admin, nil)
			if code != 200 {
				t.Fatalf("issuer records: %d", code)
			}
			var recs struct {
				Credentials []struct {
					ID         string `json:"id"`
					StatusList string `json:"status_list"`
				} `json:"credentials"`
			}
			json.Unmarshal(raw, &recs)
			n := 0
			for _, r := range recs.Credentials {
				if r.StatusList == e["uri"] {
					code, out := call(t, "POST", s.Issuer+"/issuer/credentials/"+url.PathEscape(r.ID)+"/status", s.Admin, map[string]any{"action": action})
					expect(t, action, code, out, 200)
					n++
				}
			}
			if n != 1 {
				t.Fatalf("%d issuer records at %v", n, e)
			}
		}
	}
	statusOf := func() string {
		t.Helper()
		code, d := call(t, "GET", s.URL+"/wallet/credentials/"+id, tok, nil)
		expect(t, "detail", code, d, 200)
		return d["status"].(string)
	}
	setStatus("suspend")
	if st := statusOf(); st != "suspended" {
		t.Fatalf("after suspension: %s", st)
	}
	setStatus("reinstate")
	if st := statusOf(); st != "valid" {
		t.Fatalf("after reinstatement: %s", st)
	}
	setStatus("revoke")
	if st := statusOf(); st != "revoked" {
		t.Fatalf("after revocation: %s", st)
	}

	// The history recorded both receipts, newest first.
	code, h := call(t, "GET", s.URL+"/wallet/history", tok, nil)
	expect(t, "history", code, h, 200)
	hist := h["history"].([]any)
	if len(hist) != 2 || hist[0].(map[string]any)["event"] != "credential_received" ||
		hist[1].(map[string]any)["credential_id"] != id {
		t.Fatalf("history: %v", hist)
	}

	// Delete.
	code, out = call(t, "DELETE", s.URL+"/wallet/credentials/"+id, tok, nil)
	expect(t, "delete", code, out, 204)
	code, out = call(t, "GET", s.URL+"/wallet/credentials/"+id, tok, nil)
	expect(t, "get deleted", code, out, 404)
}

func TestWrongTxCodeSpendsTheOffer(t *testing.T) {
	s := startServer(t, walletapi.Options{})
	tok := signUp(t, s, "bob")
	link, tx, _ := offer(t, s, sdjwtCfg, true)
	wrong := "000000"
	if tx == wrong {
		wrong = "111111"
	}
	code, out := call(t, "POST", s.URL+"/wallet/offers", tok, map[string]any{"offer": link, "accept": true, "tx_code": wrong})
	expect(t, "wrong tx_code", code, out, 422)
	if !strings.HasSuffix(out["type"].(string), "#offer-rejected") || !strings.Contains(out["detail"].(string), "transaction code") {
		t.Fatalf("problem: %v", out)
	}
	// Our issuer burns an offer on a wrong code: the right one is too late.
	code, out = call(t, "POST", s.URL+"/wallet/offers", tok, map[string]any{"offer": link, "accept": true, "tx_code": tx})
	expect(t, "right tx_code after a wrong one", code, out, 422)
	code, l := call(t, "GET", s.URL+"/wallet/credentials", tok, nil)
	expect(t, "list", code, l, 200)
	if n := len(l["credentials"].([]any)); n != 0 {
		t.Fatalf("%d credentials stored", n)
	}
}

func TestBadOffers(t *testing.T) {
	s := startServer(t, walletapi.Options{})
	tok := signUp(t, s, "carol")
	for _, tc := range []struct {
		name string
		body any
		want int
	}{
		{"not a link", map[string]any{"offer": "hello"}, 400},
		{"empty", map[string]any{"offer": ""}, 400},
		{"both parameters", map[string]any{"offer": "openid-credential-offer://?credential_offer=%7B%7D&credential_offer_uri=https%3A%2F%2Fa.example%2Fo"}, 400},
		{"by value, no issuer", map[string]any{"offer": "openid-credential-offer://?credential_offer=" + url.QueryEscape(`{"credential_configuration_ids":["x"]}`)}, 400},
		{"plain http to a non-loopback host", map[string]any{"offer": "openid-credential-offer://?credential_offer_uri=" + url.QueryEscape("http://issuer.example/o/1")}, 422},
		{"unknown offer", map[string]any{"offer": "openid-credential-offer://?credential_offer_uri=" + url.QueryEscape(s.Issuer+"/issuer/offers/nope")}, 422},
		{"unknown member", map[string]any{"offer": "x", "extra": 1}, 400},
		{"tx_code without accept", map[string]any{"offer": "x", "tx_code": "1"}, 400},
	} {
		code, out := call(t, "POST", s.URL+"/wallet/offers", tok, tc.body)
		if code != tc.want {
			t.Errorf("%s: %d, want %d: %v", tc.name, code, tc.want, out)
		}
	}
	// A form body is refused.
	req, _ := http.NewRequest("POST", s.URL+"/wallet/offers", strings.NewReader("offer=x"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Fatalf("form body: %d", resp.StatusCode)
	}
}
