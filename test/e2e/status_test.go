package e2e

import (
	"context"
	"crypto"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/medid/medid/credentials/jwtvc"
	"github.com/medid/medid/credentials/sdjwt"
	"github.com/medid/medid/credentials/status/tokenlist"
	"github.com/medid/medid/internal/keys"
)

// statusOf fetches and verifies the credential's status list as a
// verifier would, and returns its status value.
func statusOf(t *testing.T, base string, ref map[string]any) uint8 {
	t.Helper()
	uri := ref["uri"].(string)
	idx, _ := ref["idx"].(json.Number).Int64()
	resp, err := http.Get(uri)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != tokenlist.MediaType || resp.Header.Get("ETag") == "" {
		t.Fatalf("status list: %d %s", resp.StatusCode, resp.Header)
	}
	v, err := tokenlist.VerifyJWT(context.Background(), string(b), uri, func(_ context.Context, _ keys.Algorithm, kid string) (crypto.PublicKey, error) {
		return issuerKeyAt(t, base, kid, time.Now())
	}, time.Now())
	if err != nil {
		t.Fatalf("status list token: %v", err)
	}
	s, err := v.List.Get(int(idx))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRevocationAndSuspensionVisibleToVerifiers(t *testing.T) {
	srv := startServer(t, tempData(t), nil)
	holder, _ := keys.Generate(keys.ES256)
	cred := issuePatientIdentity(t, srv.URL, srv.Admin, holder)
	pres, _ := sdjwt.Present(cred, nil, nil)
	v, err := sdjwt.Verify(context.Background(), pres, sdjwt.VerifyOptions{ExpectedTyp: sdjwt.TypVC,
		IssuerKey: func(_ context.Context, _ string, h sdjwt.Header) (crypto.PublicKey, error) {
			return issuerKeyAt(t, srv.URL, h.Kid, time.Now())
		}})
	if err != nil {
		t.Fatal(err)
	}
	ref := v.Claims["status"].(map[string]any)["status_list"].(map[string]any)
	if got := statusOf(t, srv.URL, ref); got != tokenlist.Valid {
		t.Fatalf("fresh credential status %d", got)
	}
	// The issuer finds the credential by its status index.
	idx, _ := ref["idx"].(json.Number).Int64()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/issuer/credentials?status_index="+ref["idx"].(json.Number).String(), nil)
	req.Header.Set("Authorization", "Bearer "+srv.Admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Credentials []struct {
			ID          string `json:"id"`
			StatusIndex int64  `json:"status_index"`
			Subject     string `json:"subject"`
		} `json:"credentials"`
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	json.Unmarshal(raw, &list)
	if len(list.Credentials) != 1 || list.Credentials[0].StatusIndex != idx || strings.Contains(string(raw), "Lovelace") {
		t.Fatalf("issuance records: %s", raw)
	}
	id := url.PathEscape(list.Credentials[0].ID) // urn:uuid:… percent-encoded, as a client would
	sizeBefore := checkpointSize(t, srv.URL)
	change := func(action string, want int) {
		t.Helper()
		code, out := postJSON(t, srv.URL+"/issuer/credentials/"+id+"/status", srv.Admin, map[string]any{"action": action})
		if code != want {
			t.Fatalf("%s: %d %v", action, code, out)
		}
	}
	change("suspend", 200)
	change("suspend", 200) // idempotent: no second ledger entry
	start := time.Now()
	if got := statusOf(t, srv.URL, ref); got != tokenlist.Suspended {
		t.Fatalf("after suspend: %d", got)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("suspension took %v to show", d)
	}
	change("reinstate", 200)
	if got := statusOf(t, srv.URL, ref); got != tokenlist.Valid {
		t.Fatalf("after reinstate: %d", got)
	}
	change("revoke", 200)
	if got := statusOf(t, srv.URL, ref); got != tokenlist.Invalid {
		t.Fatalf("after revoke: %d", got)
	}
	change("reinstate", http.StatusConflict) // revocation is final
	change("suspend", http.StatusConflict)
	// Each change was committed to the ledger.
	waitCheckpoint(t, srv.URL, sizeBefore+3)
}

func TestVCAPIIssue(t *testing.T) {
	srv := startServer(t, tempData(t), nil)
	var subject map[string]any
	json.Unmarshal([]byte(patientClaims), &subject)
	subject["id"] = "did:example:patient"
	vc := map[string]any{"@context": []any{"https://www.w3.org/ns/credentials/v2"},
		"type": []any{"VerifiableCredential", "PatientIdentityCredential"}, "credentialSubject": subject}
	code, out := postJSON(t, srv.URL+"/credentials/issue", srv.Admin, map[string]any{"credential": vc, "options": map[string]any{"format": "vc+jwt"}})
	if code != http.StatusCreated {
		t.Fatalf("issue vc+jwt: %d %v", code, out)
	}
	jv, err := jwtvc.Verify(context.Background(), out["verifiableCredential"].(string), jwtvc.VerifyOptions{
		Key: func(_ context.Context, _, kid string, at time.Time) (crypto.PublicKey, error) {
			return issuerKeyAt(t, srv.URL, kid, at)
		}})
	if err != nil || jv.Format != jwtvc.VCJWT || jv.Issuer != srv.App.ServerDID {
		t.Fatalf("vc+jwt: %v", err)
	}
	for _, tc := range []struct {
		name  string
		body  map[string]any
		code  int
		field string
	}{
		{"ldp_vc without the health context", map[string]any{"credential": vc}, 422, "credential"},
		{"unknown cryptosuite", map[string]any{"credential": vc, "options": map[string]any{"cryptosuite": "rsa-2000"}}, 400, "options.cryptosuite"},
		{"cryptosuite with a JOSE format", map[string]any{"credential": vc, "options": map[string]any{"format": "vc+jwt", "cryptosuite": "eddsa-rdfc-2022"}}, 400, "options.cryptosuite"},
		{"foreign issuer", map[string]any{"credential": withMember(vc, "issuer", "did:example:other"), "options": map[string]any{"format": "vc+jwt"}}, 422, "credential.issuer"},
		{"bad context", map[string]any{"credential": withMember(vc, "@context", []any{"https://example.org"}), "options": map[string]any{"format": "vc+jwt"}}, 400, "credential.@context"},
		{"invalid claims", map[string]any{"credential": withMember(vc, "credentialSubject", map[string]any{"given_name": 7}), "options": map[string]any{"format": "vc+jwt"}}, 422, "credential.credentialSubject.given_name"},
	} {
		code, out := postJSON(t, srv.URL+"/credentials/issue", srv.Admin, tc.body)
		if code != tc.code || out["field"] != tc.field {
			t.Errorf("%s: %d %v", tc.name, code, out)
		}
	}
	// An id the caller chose must be new: nothing is signed for a reused one.
	withID := withMember(vc, "id", "urn:uuid:6f1f2c0e-2a8e-4c1e-9a57-1b1b0a6d2f10")
	if code, out := postJSON(t, srv.URL+"/credentials/issue", srv.Admin, map[string]any{"credential": withID, "options": map[string]any{"format": "vc+jwt"}}); code != 201 {
		t.Fatalf("first issue with an id: %d %v", code, out)
	}
	if code, out := postJSON(t, srv.URL+"/credentials/issue", srv.Admin, map[string]any{"credential": withID, "options": map[string]any{"format": "vc+jwt"}}); code != 409 || out["field"] != "credential.id" {
		t.Fatalf("reused id: %d %v", code, out)
	}
	if code, _ := postJSON(t, srv.URL+"/credentials/issue", "", map[string]any{"credential": vc}); code != 401 {
		t.Fatalf("without admin token: %d", code)
	}
}

func withMember(m map[string]any, k string, v any) map[string]any {
	out := map[string]any{}
	for a, b := range m {
		out[a] = b
	}
	out[k] = v
	return out
}
