package issuer

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/medid/medid/credentials/health"
	"github.com/medid/medid/credentials/jwtvc"
	"github.com/medid/medid/credentials/status"
	"github.com/medid/medid/internal/httpx"
	"github.com/medid/medid/internal/keys"
	"github.com/medid/medid/internal/kv/boltkv"
	"github.com/medid/medid/internal/ledger"
)

// vcapiBody is the request of scripts/bench-vcapi*.sh.
const vcapiBody = `{"credential": {"@context": ["https://www.w3.org/ns/credentials/v2"], "type": ["VerifiableCredential", "PatientIdentityCredential"], "credentialSubject": {"id": "did:example:patient", "given_name": "Ada", "family_name": "Lovelace", "birthdate": "1990-12-10", "gender": "female", "assurance_level": "substantial", "identifiers": [{"system": "https://hospital.example/mrn", "value": "MRN-0042", "type": "MRN"}]}}, "options": {"format": "vc+jwt"}}`

// vcapiEnv is POST /credentials/issue as the server wires it: a synced
// bbolt store, status list pools, issuance records, claims validation.
type vcapiEnv struct {
	echo   *echo.Echo
	api    *VCAPI
	status *Status
	store  *boltkv.Store
	key    IssuerKey
}

// newVCAPIEnv opens (or reopens) the store at path and serves the VC-API
// with key; closing is left to the caller (close).
func newVCAPIEnv(tb testing.TB, path string, key IssuerKey) *vcapiEnv {
	tb.Helper()
	store, err := boltkv.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	mgr, err := status.NewManager(store, status.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	ks := func(context.Context, keys.Algorithm) (IssuerKey, error) { return key, nil }
	st := &Status{Manager: mgr, Store: store, Keys: ks, ListURL: "https://issuer.example/status/token/",
		BitstringURL: "https://issuer.example/status/bitstring/"}
	api := &VCAPI{Keys: ks, TokenStatus: st.Allocate, BitstringStatus: st.AllocateBitstring,
		Recorder: st.RecordIssuance, Issued: st.Issued, ValidateSubject: validateHealthSubject}
	e := echo.New()
	e.HTTPErrorHandler = httpx.ErrorHandler(slog.New(slog.NewTextHandler(io.Discard, nil)))
	api.Register(e.Group(""), httpx.AdminAuth(admin))
	return &vcapiEnv{echo: e, api: api, status: st, store: store, key: key}
}

func (v *vcapiEnv) close() {
	v.status.Close()
	v.store.Close()
}

// issue posts body to POST /credentials/issue in process.
func (v *vcapiEnv) issue(body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/credentials/issue", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+admin)
	rec := httptest.NewRecorder()
	v.echo.ServeHTTP(rec, req)
	return rec
}

// validateHealthSubject is the server's VCAPI.ValidateSubject.
func validateHealthSubject(types []string, claims map[string]any) error {
	for _, typ := range types {
		if _, ok := health.LookupType(typ); ok {
			if _, err := health.Decode(typ, claims); err != nil {
				return &ClaimsError{Reason: err.Error()}
			}
			return nil
		}
	}
	return nil
}

func testIssuerKey(tb testing.TB) IssuerKey {
	tb.Helper()
	k, err := keys.Generate(keys.ES256)
	if err != nil {
		tb.Fatal(err)
	}
	return IssuerKey{DID: "did:example:issuer", KID: "did:example:issuer#key-1", Key: k}
}

func issueBody(t *testing.T, id string) []byte {
	t.Helper()
	var req map[string]any
	if err := json.Unmarshal([]byte(vcapiBody), &req); err != nil {
		t.Fatal(err)
	}
	if id != "" {
		req["credential"].(map[string]any)["id"] = id
	}
	b, _ := json.Marshal(req)
	return b
}

// issued decodes a 201 answer and verifies its vc+jwt.
func (v *vcapiEnv) issued(t *testing.T, code int, body []byte) *jwtvc.Verified {
	t.Helper()
	if code != http.StatusCreated {
		t.Fatalf("issue: %d %s", code, body)
	}
	var out struct {
		VC string `json:"verifiableCredential"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatal(err)
	}
	jv, err := jwtvc.Verify(context.Background(), out.VC, jwtvc.VerifyOptions{
		Key: func(_ context.Context, iss, kid string, _ time.Time) (crypto.PublicKey, error) {
			if iss != v.key.DID || kid != v.key.KID {
				return nil, errors.New("unknown key")
			}
			return v.key.Key.Public(), nil
		}})
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	return jv
}

// A vc+jwt issued over the VC-API verifies, carries the status entries
// allocated for it, and has an issuance record naming them and no claim.
func TestVCAPIIssueRecordsCredential(t *testing.T) {
	v := newVCAPIEnv(t, filepath.Join(t.TempDir(), "kv.db"), testIssuerKey(t))
	defer v.close()
	rec := v.issue(issueBody(t, ""))
	jv := v.issued(t, rec.Code, rec.Body.Bytes())
	id, _ := jv.Credential["id"].(string)
	if !strings.HasPrefix(id, "urn:uuid:") || len(id) != len("urn:uuid:")+36 || id[len("urn:uuid:")+14] != '7' {
		t.Fatalf("credential id %q is not the urn:uuid of a version 7 UUID", id)
	}
	status, _ := jv.Credential["credentialStatus"].([]any)
	if len(status) != 2 {
		t.Fatalf("credentialStatus %v", jv.Credential["credentialStatus"])
	}
	records, err := v.status.Records(context.Background(), -1)
	if err != nil || len(records) != 1 {
		t.Fatalf("records: %v %v", records, err)
	}
	r := records[0]
	if r.ID != id || r.Status != "valid" || r.Configuration != "vcapi:PatientIdentityCredential_vc+jwt" || len(r.Bitstring) != 2 {
		t.Fatalf("record %+v", r)
	}
	for i, e := range status {
		m := e.(map[string]any)
		if m["statusListCredential"] != r.Bitstring[i].List || m["statusPurpose"] != r.Bitstring[i].Purpose ||
			m["type"] != "BitstringStatusListEntry" || m["id"] != r.Bitstring[i].List+"#"+m["statusListIndex"].(string) {
			t.Fatalf("entry %v, record %+v", m, r.Bitstring[i])
		}
	}
	raw, _ := json.Marshal(records)
	for _, claim := range []string{"Ada", "Lovelace", "1990-12-10", "MRN-0042", "did:example:patient"} {
		if strings.Contains(string(raw), claim) {
			t.Fatalf("the record holds %q: %s", claim, raw)
		}
	}
}

// An id the caller chose is issued once: a reuse is 409 naming
// credential.id, also when the requests race (one of them wins), and also
// when only the record's compare-and-swap can tell (no Issued check).
func TestVCAPIReusedID(t *testing.T) {
	v := newVCAPIEnv(t, filepath.Join(t.TempDir(), "kv.db"), testIssuerKey(t))
	defer v.close()
	const id = "urn:uuid:6f1f2c0e-2a8e-4c1e-9a57-1b1b0a6d2f10"
	rec := v.issue(issueBody(t, id))
	if jv := v.issued(t, rec.Code, rec.Body.Bytes()); jv.Credential["id"] != id {
		t.Fatalf("id %v", jv.Credential["id"])
	}
	conflict := func(code int, body string) bool {
		return code == http.StatusConflict && strings.Contains(body, `"field":"credential.id"`)
	}
	if rec := v.issue(issueBody(t, id)); !conflict(rec.Code, rec.Body.String()) {
		t.Fatalf("reused id: %d %s", rec.Code, rec.Body)
	}
	for _, precheck := range []bool{true, false} {
		if !precheck {
			v.api.Issued = nil
		}
		raced := "urn:example:raced-" + map[bool]string{true: "a", false: "b"}[precheck]
		codes := map[int]int{}
		var mu sync.Mutex
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rec := v.issue(issueBody(t, raced))
				mu.Lock()
				defer mu.Unlock()
				if rec.Code == http.StatusConflict && !conflict(rec.Code, rec.Body.String()) {
					t.Errorf("409 without the field: %s", rec.Body)
				}
				codes[rec.Code]++
			}()
		}
		wg.Wait()
		if codes[http.StatusCreated] != 1 || codes[http.StatusConflict] != 7 {
			t.Fatalf("pre-check %v: answers to 8 racing requests for one id: %v", precheck, codes)
		}
		if rec := v.issue(issueBody(t, raced)); !conflict(rec.Code, rec.Body.String()) {
			t.Fatalf("pre-check %v: reused id after the race: %d %s", precheck, rec.Code, rec.Body)
		}
	}
	if n, _ := v.status.Records(context.Background(), -1); len(n) != 3 {
		t.Fatalf("%d records, want 3", len(n))
	}
}

// The record is durable before the answer: after the store is closed and
// opened again, the credential is listed, its id is still taken, and it
// can be revoked.
func TestVCAPIRecordSurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kv.db")
	key := testIssuerKey(t)
	v := newVCAPIEnv(t, path, key)
	var ids []string
	for _, id := range []string{"", "urn:example:chosen"} {
		rec := v.issue(issueBody(t, id))
		ids = append(ids, v.issued(t, rec.Code, rec.Body.Bytes()).Credential["id"].(string))
	}
	v.close()

	v = newVCAPIEnv(t, path, key)
	defer v.close()
	ctx := context.Background()
	records, err := v.status.Records(ctx, -1)
	if err != nil || len(records) != 2 {
		t.Fatalf("records after restart: %v %v", records, err)
	}
	for _, id := range ids {
		if ok, err := v.status.Issued(ctx, id); !ok || err != nil {
			t.Fatalf("Issued(%s) after restart: %v %v", id, ok, err)
		}
	}
	if rec := v.issue(issueBody(t, ids[1])); rec.Code != http.StatusConflict {
		t.Fatalf("reused id after restart: %d %s", rec.Code, rec.Body)
	}
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	l, err := ledger.Open(ctx, ledger.Config{Dir: filepath.Join(t.TempDir(), "ledger"), Signer: priv, Origin: "test.example/ledger"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(ctx)
	v.status.Ledger = l
	r, err := v.status.Change(ctx, ids[0], "revoke")
	if err != nil || r.Status != "revoked" {
		t.Fatalf("revoke after restart: %+v %v", r, err)
	}
}
