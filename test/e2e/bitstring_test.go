package e2e

import (
	"context"
	"crypto"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medid/medid/credentials/jwtvc"
	"github.com/medid/medid/credentials/status/bitstring"
	"github.com/medid/medid/did"
	"github.com/medid/medid/did/didweb"
	"github.com/medid/medid/internal/app"
)

// bitOf fetches and verifies a BitstringStatusListEntry's list credential
// as a verifier would, and returns the entry's bit.
func bitOf(t *testing.T, base string, entry map[string]any) bool {
	t.Helper()
	uri := entry["statusListCredential"].(string)
	idx, err := strconv.Atoi(entry["statusListIndex"].(string))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(uri)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/vc+jwt" || resp.Header.Get("ETag") == "" {
		t.Fatalf("bitstring list: %d %s %s", resp.StatusCode, resp.Header, b)
	}
	v, err := jwtvc.Verify(context.Background(), string(b), jwtvc.VerifyOptions{
		Key: func(_ context.Context, _, kid string, at time.Time) (crypto.PublicKey, error) {
			return issuerKeyAt(t, base, kid, at)
		}})
	if err != nil {
		t.Fatalf("status list credential: %v", err)
	}
	if v.Credential["id"] != uri {
		t.Fatalf("list credential id %v, served at %s", v.Credential["id"], uri)
	}
	subj := v.Credential["credentialSubject"].(map[string]any)
	if subj["statusPurpose"] != entry["statusPurpose"] || subj["type"] != "BitstringStatusList" {
		t.Fatalf("list subject %v for entry %v", subj, entry)
	}
	l, err := bitstring.Decode(subj["encodedList"].(string), bitstring.MinEntries, 1<<24)
	if err != nil {
		t.Fatal(err)
	}
	bit, err := l.Get(idx)
	if err != nil {
		t.Fatal(err)
	}
	return bit
}

// TestBitstringStatusOfVCAPICredentials: a vc+jwt issued through the
// VC-API carries revocation and suspension entries, is recorded, and its
// status changes show in the signed bitstring lists.
func TestBitstringStatusOfVCAPICredentials(t *testing.T) {
	srv := startServer(t, tempData(t), nil)
	var subject map[string]any
	json.Unmarshal([]byte(patientClaims), &subject)
	subject["id"] = "did:example:patient"
	vc := map[string]any{"@context": []any{"https://www.w3.org/ns/credentials/v2"},
		"type": []any{"VerifiableCredential", "PatientIdentityCredential"}, "credentialSubject": subject}
	code, out := postJSON(t, srv.URL+"/credentials/issue", srv.Admin, map[string]any{"credential": vc, "options": map[string]any{"format": "vc+jwt"}})
	if code != http.StatusCreated {
		t.Fatalf("issue: %d %v", code, out)
	}
	jv, err := jwtvc.Verify(context.Background(), out["verifiableCredential"].(string), jwtvc.VerifyOptions{
		Key: func(_ context.Context, _, kid string, at time.Time) (crypto.PublicKey, error) {
			return issuerKeyAt(t, srv.URL, kid, at)
		}})
	if err != nil {
		t.Fatal(err)
	}
	entries, _ := jv.Credential["credentialStatus"].([]any)
	if len(entries) != 2 {
		t.Fatalf("credentialStatus: %v", jv.Credential["credentialStatus"])
	}
	byPurpose := map[string]map[string]any{}
	for _, e := range entries {
		m := e.(map[string]any)
		if m["type"] != "BitstringStatusListEntry" || !strings.HasPrefix(m["statusListCredential"].(string), srv.URL+"/status/bitstring/") {
			t.Fatalf("entry %v", m)
		}
		byPurpose[m["statusPurpose"].(string)] = m
	}
	rev, sus := byPurpose["revocation"], byPurpose["suspension"]
	if rev == nil || sus == nil {
		t.Fatalf("want a revocation and a suspension entry: %v", entries)
	}
	if bitOf(t, srv.URL, rev) || bitOf(t, srv.URL, sus) {
		t.Fatal("a fresh credential is marked")
	}

	// The issuer finds it by either index, and keeps no claims.
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/issuer/credentials?status_index="+rev["statusListIndex"].(string), nil)
	req.Header.Set("Authorization", "Bearer "+srv.Admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var list struct {
		Credentials []struct {
			ID        string `json:"id"`
			Bitstring []struct {
				Purpose string `json:"purpose"`
			} `json:"bitstring_status"`
		} `json:"credentials"`
	}
	json.Unmarshal(raw, &list)
	var found string
	for _, c := range list.Credentials {
		if c.ID == jv.Credential["id"] && len(c.Bitstring) == 2 {
			found = c.ID
		}
	}
	if found == "" || strings.Contains(string(raw), "Lovelace") || strings.Contains(string(raw), "did:example:patient") {
		t.Fatalf("issuance records: %s", raw)
	}
	sizeBefore := checkpointSize(t, srv.URL)
	change := func(action string, want int) {
		t.Helper()
		code, out := postJSON(t, srv.URL+"/issuer/credentials/"+url.PathEscape(found)+"/status", srv.Admin, map[string]any{"action": action})
		if code != want {
			t.Fatalf("%s: %d %v", action, code, out)
		}
	}
	change("suspend", 200)
	start := time.Now()
	if !bitOf(t, srv.URL, sus) || bitOf(t, srv.URL, rev) {
		t.Fatal("after suspend: want only the suspension bit")
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("suspension took %v to show", d)
	}
	change("reinstate", 200)
	if bitOf(t, srv.URL, sus) {
		t.Fatal("after reinstate: suspension bit still set")
	}
	change("revoke", 200)
	if !bitOf(t, srv.URL, rev) {
		t.Fatal("after revoke: revocation bit not set")
	}
	change("reinstate", http.StatusConflict)
	change("suspend", http.StatusConflict)
	waitCheckpoint(t, srv.URL, sizeBefore+3)
}

// TestIssuerDIDWeb: with MEDID_ISSUER_DID naming a did:web, the server
// generates keys for it, writes the DID document to publish, refuses to
// issue until the published document lists its keys, then issues under
// the did:web, which verifiers resolve over HTTP(S).
func TestIssuerDIDWeb(t *testing.T) {
	data := tempData(t)
	var published atomic.Bool
	web := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/did.json" || !published.Load() {
			http.NotFound(w, r)
			return
		}
		b, err := os.ReadFile(filepath.Join(data, app.IssuerDIDDocumentFile))
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Header().Set("Content-Type", "application/did+json")
		w.Write(b)
	}))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	web.Listener = l
	web.Start()
	defer web.Close()
	webDID := "did:web:" + strings.ReplaceAll(l.Addr().String(), ":", "%3A")

	srv := startServer(t, data, map[string]string{"MEDID_ISSUER_DID": webDID})
	if srv.App.IssuerDID != webDID {
		t.Fatalf("issuer DID %q", srv.App.IssuerDID)
	}
	doc, err := os.ReadFile(filepath.Join(data, app.IssuerDIDDocumentFile))
	if err != nil || !strings.Contains(string(doc), webDID+"#key-1") || strings.Contains(string(doc), `"d"`) {
		t.Fatalf("DID document to publish: %v\n%s", err, doc)
	}
	vc := map[string]any{"@context": []any{"https://www.w3.org/ns/credentials/v2"},
		"type": []any{"VerifiableCredential", "ExampleCredential"}, "credentialSubject": map[string]any{"id": "did:example:x", "name": "x"}}
	body := map[string]any{"credential": vc, "options": map[string]any{"format": "vc+jwt"}}
	code, out := postJSON(t, srv.URL+"/credentials/issue", srv.Admin, body)
	if code != http.StatusServiceUnavailable || !strings.Contains(fmt.Sprint(out["detail"]), webDID) {
		t.Fatalf("before publishing: %d %v", code, out)
	}
	published.Store(true)
	code, out = postJSON(t, srv.URL+"/credentials/issue", srv.Admin, body)
	if code != http.StatusCreated {
		t.Fatalf("after publishing: %d %v", code, out)
	}
	res := did.NewResolver(didweb.New(web.Client(), true))
	jv, err := jwtvc.Verify(context.Background(), out["verifiableCredential"].(string), jwtvc.VerifyOptions{
		Key: func(ctx context.Context, iss, kid string, _ time.Time) (crypto.PublicKey, error) {
			r, err := res.Resolve(ctx, iss, did.ResolutionOptions{})
			if err != nil {
				return nil, err
			}
			vm, ok := r.Document.VerificationMethodByID(kid)
			if !ok || !r.Document.Authorized(did.AssertionMethod, vm.ID) {
				return nil, fmt.Errorf("%s is not an assertion method", kid)
			}
			return vm.PublicKey()
		}})
	if err != nil || jv.Issuer != webDID {
		t.Fatalf("verify under did:web: %v", err)
	}
	// The server's own did:medid is still an issuer it holds keys for.
	code, out = postJSON(t, srv.URL+"/credentials/issue", srv.Admin, map[string]any{
		"credential": withMember(vc, "issuer", srv.App.ServerDID), "options": map[string]any{"format": "vc+jwt"}})
	if code != http.StatusCreated {
		t.Fatalf("issuer = server DID: %d %v", code, out)
	}
	// A restart keeps the same keys (the published document stays valid).
	srv.Stop(t)
	srv = startServer(t, data, map[string]string{"MEDID_ISSUER_DID": webDID})
	if code, out := postJSON(t, srv.URL+"/credentials/issue", srv.Admin, body); code != http.StatusCreated {
		t.Fatalf("after restart: %d %v", code, out)
	}
}
