package walletapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/medid/medid/credentials/health"
	"github.com/medid/medid/internal/app"
	"github.com/medid/medid/issuer"
	"github.com/medid/medid/verifier/audit"
	walletapi "github.com/medid/medid/wallet-api"
)

// The adapters internal/app is to provide, written here over the real
// app's issuer, status lists, access log and ledger.

const consentConfig = "HealthConsentCredential_dc+sd-jwt"

// consentIssuer offers consent credentials through the issuer's
// CreateOffer, validating the claims as the app's offers do.
type consentIssuer struct{ a *app.App }

func (c consentIssuer) OfferConsent(ctx context.Context, claims map[string]any) (string, error) {
	o, err := c.a.Issuer.CreateOffer(ctx, issuer.OfferRequest{ConfigurationIDs: []string{consentConfig}, Claims: claims},
		c.a.Config.BaseURL+"/issuer/offers", func(cfg issuer.Configuration, claims map[string]any) error {
			typ, _, _ := strings.Cut(cfg.ID, "_")
			if _, err := health.Decode(typ, claims); err != nil {
				return &issuer.ClaimsError{Field: "claims", Reason: err.Error()}
			}
			return nil
		})
	if err != nil {
		var ce *issuer.ClaimsError
		if errors.As(err, &ce) {
			return "", &walletapi.FieldError{Field: strings.TrimPrefix(ce.Field, "claims."), Reason: ce.Reason}
		}
		return "", err
	}
	return o.OfferURI, nil
}

// consentRevoker finds the consent credential by its status entry among
// the issuer's records and revokes it. Only consent credentials can be
// revoked this way.
type consentRevoker struct{ st *issuer.Status }

func (r consentRevoker) Revoke(ctx context.Context, uri string, idx int) error {
	recs, err := r.st.Records(ctx, idx)
	if err != nil {
		return err
	}
	for _, rec := range recs {
		match := rec.StatusList == uri && rec.StatusIndex != nil && *rec.StatusIndex == idx
		for _, b := range rec.Bitstring {
			match = match || (b.List == uri && b.Index == idx && b.Purpose == "revocation")
		}
		if !match || !strings.HasPrefix(rec.Configuration, health.TypeHealthConsent+"_") {
			continue
		}
		if rec.Status == "revoked" {
			return nil
		}
		_, err := r.st.Change(ctx, rec.ID, "revoke")
		return err
	}
	return walletapi.ErrUnknownStatusEntry
}

func appConsentOptions(a *app.App) walletapi.ConsentOptions {
	return walletapi.ConsentOptions{ConsentIssuer: consentIssuer{a}, ConsentRevoker: consentRevoker{a.Status},
		AccessLog: auditLog{a.Audit}, LedgerProofs: a.Ledger, LedgerKey: a.Ledger.VerifierKey()}
}

func consentBody(grantee string) map[string]any {
	now := time.Now().UTC()
	return map[string]any{
		"grantee":         map[string]any{"id": grantee, "name": "General Clinic", "kind": "clinic"},
		"scopes":          []string{"patient/Observation.rs", "patient/Condition.r"},
		"purposes":        []string{"TREAT"},
		"valid_from":      now.Add(-time.Minute).Format(time.RFC3339),
		"valid_until":     now.Add(30 * 24 * time.Hour).Format(time.RFC3339),
		"excluded_labels": []string{"PSY"},
		"delegable":       false,
	}
}

func consentList(t *testing.T, s *server, tok string) []map[string]any {
	t.Helper()
	code, out := call(t, "GET", s.URL+"/wallet/consents", tok, nil)
	expect(t, "list consents", code, out, 200)
	var cs []map[string]any
	for _, c := range out["consents"].([]any) {
		cs = append(cs, c.(map[string]any))
	}
	return cs
}

func TestConsentGrantListRevokeEndToEnd(t *testing.T) {
	a := issuerApp.App
	s := startServer(t, walletapi.Options{StatusTTL: time.Nanosecond, StatusMaxStale: time.Nanosecond,
		ConsentOptions: appConsentOptions(a)})
	alice, mallory := signUp(t, s, "alice"), signUp(t, s, "mallory")
	aliceJWK, _ := holderDIDs(t, s, alice)

	// Granting.
	code, c := call(t, "POST", s.URL+"/wallet/consents", alice, consentBody("did:web:clinic.example"))
	expect(t, "grant", code, c, 201)
	id, credID := c["id"].(string), c["credential_id"].(string)
	if id == "" || credID == "" || c["patient"] != aliceJWK || c["status"] != "valid" || c["active"] != true ||
		c["grantee"].(map[string]any)["id"] != "did:web:clinic.example" || len(c["scopes"].([]any)) != 2 ||
		c["excluded_labels"].([]any)[0] != "PSY" {
		t.Fatalf("consent: %v", c)
	}
	// The credential is in the wallet, bound to Alice's holder key, and
	// the issuer recorded it.
	code, d := call(t, "GET", s.URL+"/wallet/credentials/"+credID, alice, nil)
	expect(t, "consent credential", code, d, 200)
	if !strings.HasSuffix(d["type"].(string), "/HealthConsentCredential") || d["claims"].(map[string]any)["patient"] != aliceJWK ||
		d["holder_dids"].([]any)[0] != aliceJWK || d["status"] != "valid" {
		t.Fatalf("credential: %v", d)
	}
	entries := d["status_entries"].([]any)
	if len(entries) == 0 {
		t.Fatal("the consent has no status entry")
	}
	// issuerStatus is the issuer's record of every copy of the consent.
	issuerStatus := func() []string {
		t.Helper()
		var out []string
		for _, e := range entries {
			e := e.(map[string]any)
			idx, _ := e["idx"].(json.Number).Int64()
			recs, err := a.Status.Records(context.Background(), int(idx))
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range recs {
				if r.StatusList == e["uri"] {
					out = append(out, r.Status)
				}
			}
		}
		if len(out) != len(entries) {
			t.Fatalf("the issuer has %d records for %d status entries", len(out), len(entries))
		}
		return out
	}
	for _, st := range issuerStatus() {
		if st != "valid" {
			t.Fatalf("issuer: %v", st)
		}
	}

	cs := consentList(t, s, alice)
	if len(cs) != 1 || cs[0]["id"] != id || cs[0]["status"] != "valid" {
		t.Fatalf("list: %v", cs)
	}

	// Another account sees none of it and cannot revoke it.
	if cs := consentList(t, s, mallory); len(cs) != 0 {
		t.Fatalf("mallory lists %v", cs)
	}
	code, out := call(t, "DELETE", s.URL+"/wallet/consents/"+id, mallory, nil)
	expect(t, "mallory revokes alice's consent", code, out, 404)
	if cs := consentList(t, s, alice); cs[0]["status"] != "valid" {
		t.Fatalf("after mallory's attempt: %v", cs[0])
	}

	// Revoking: at the issuer, then in the wallet.
	code, r := call(t, "DELETE", s.URL+"/wallet/consents/"+id, alice, nil)
	expect(t, "revoke", code, r, 200)
	if r["status"] != "revoked" || r["revoked_at"] == nil || r["active"] != false {
		t.Fatalf("revoked: %v", r)
	}
	cs = consentList(t, s, alice)
	if len(cs) != 1 || cs[0]["status"] != "revoked" {
		t.Fatalf("list after revoking: %v", cs)
	}
	for _, st := range issuerStatus() {
		if st != "revoked" {
			t.Fatalf("issuer after revoking: %v", st)
		}
	}
	// The issuer's status list says so: the credential's own status,
	// read from the list, is revoked.
	code, d = call(t, "GET", s.URL+"/wallet/credentials/"+credID, alice, nil)
	expect(t, "credential after revoking", code, d, 200)
	if d["status"] != "revoked" {
		t.Fatalf("the issuer's list does not show the consent revoked: %v", d["status"])
	}
	// Again: nothing changes.
	code, r = call(t, "DELETE", s.URL+"/wallet/consents/"+id, alice, nil)
	expect(t, "revoke again", code, r, 200)
	if r["status"] != "revoked" {
		t.Fatalf("revoked again: %v", r)
	}
	code, out = call(t, "DELETE", s.URL+"/wallet/consents/no-such-consent", alice, nil)
	expect(t, "unknown consent", code, out, 404)

	// History.
	code, h := call(t, "GET", s.URL+"/wallet/history", alice, nil)
	expect(t, "history", code, h, 200)
	events := map[string]bool{}
	for _, e := range h["history"].([]any) {
		events[e.(map[string]any)["event"].(string)] = true
	}
	if !events[walletapi.EventConsentGranted] || !events[walletapi.EventConsentRevoked] {
		t.Fatalf("history: %v", h)
	}

	// A decision about Alice logged by the server's access log shows on
	// her access log, checked against the server's ledger.
	rec, err := a.Audit.Record(context.Background(), audit.Entry{Kind: audit.KindAccessDecision, Verifier: a.ServerDID,
		Client: "did:web:clinic.example", PatientDID: mustParseDID(t, aliceJWK), Scopes: []string{"patient/Observation.r"},
		Purpose: "TREAT", Outcome: audit.OutcomeDeny, Reasons: []string{"consent_revoked"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := a.Ledger.AwaitCheckpoint(ctx, rec.LeafIndex); err != nil {
		t.Fatal(err)
	}
	log, pages := accessPages(t, s, alice, 10)
	if len(log) != 1 || log[0]["id"] != rec.ID || log[0]["verified"] != true || log[0]["outcome"] != "deny" ||
		pages[0]["all_verified"] != true {
		t.Fatalf("access log: %v", pages)
	}
	if log, _ := accessPages(t, s, mallory, 10); len(log) != 0 {
		t.Fatalf("mallory's access log: %v", log)
	}
}

// wideningIssuer is the real consent issuer made to issue more than it
// was asked for: a consent with one scope more.
type wideningIssuer struct{ consentIssuer }

func (w wideningIssuer) OfferConsent(ctx context.Context, claims map[string]any) (string, error) {
	claims["scopes"] = append(claims["scopes"].([]any), "patient/MedicationRequest.rs")
	return w.consentIssuer.OfferConsent(ctx, claims)
}

func TestConsentRequestsAreValidated(t *testing.T) {
	a := issuerApp.App
	opts := appConsentOptions(a)
	opts.ConsentRevoker = nil
	s := startServer(t, walletapi.Options{ConsentOptions: opts})
	tok := signUp(t, s, "alice")

	with := func(change func(b map[string]any)) map[string]any {
		b := consentBody("did:web:clinic.example")
		change(b)
		return b
	}
	past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	for _, c := range []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"no grantee id", with(func(b map[string]any) { delete(b["grantee"].(map[string]any), "id") }), "grantee.id"},
		{"grantee not a DID", with(func(b map[string]any) { b["grantee"].(map[string]any)["id"] = "clinic" }), "grantee.id"},
		{"unknown grantee kind", with(func(b map[string]any) { b["grantee"].(map[string]any)["kind"] = "spy" }), "grantee.kind"},
		{"user scope", with(func(b map[string]any) { b["scopes"] = []string{"user/Observation.rs"} }), "scopes[0]"},
		{"no scopes", with(func(b map[string]any) { b["scopes"] = []string{} }), "scopes"},
		{"unknown purpose", with(func(b map[string]any) { b["purposes"] = []string{"FUN"} }), "purposes[0]"},
		{"unknown label", with(func(b map[string]any) { b["excluded_labels"] = []string{"NOPE"} }), "excluded_labels[0]"},
		{"no period", with(func(b map[string]any) { delete(b, "valid_from") }), "valid_from"},
		{"not a time", with(func(b map[string]any) { b["valid_until"] = "tomorrow" }), "valid_until"},
		{"period backwards", with(func(b map[string]any) {
			b["valid_until"] = b["valid_from"]
			b["valid_from"] = time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
		}), "valid_until"},
		{"already over", with(func(b map[string]any) { b["valid_from"] = "2020-01-01T00:00:00Z"; b["valid_until"] = past }), "valid_until"},
		{"unknown key", with(func(b map[string]any) { b["key_id"] = "no-such-key" }), "key_id"},
		{"unknown member", with(func(b map[string]any) { b["patient"] = "did:web:someone-else.example" }), ""},
	} {
		code, out := call(t, "POST", s.URL+"/wallet/consents", tok, c.body)
		expect(t, c.name, code, out, 400)
		if c.field != "" && out["field"] != c.field {
			t.Errorf("%s: field %v, want %s (%v)", c.name, out["field"], c.field, out["detail"])
		}
	}
	if cs := consentList(t, s, tok); len(cs) != 0 {
		t.Fatalf("refused requests stored %v", cs)
	}

	// Without a revoker a consent cannot be revoked, and stays valid.
	code, c := call(t, "POST", s.URL+"/wallet/consents", tok, consentBody("did:web:clinic.example"))
	expect(t, "grant", code, c, 201)
	code, out := call(t, "DELETE", s.URL+"/wallet/consents/"+c["id"].(string), tok, nil)
	expect(t, "revoke without a revoker", code, out, 501)
	if cs := consentList(t, s, tok); len(cs) != 1 || cs[0]["status"] != "valid" {
		t.Fatalf("after a refused revocation: %v", cs)
	}

	// Every consent route needs a session.
	for _, r := range []struct{ method, path string }{{"POST", "/wallet/consents"}, {"GET", "/wallet/consents"},
		{"DELETE", "/wallet/consents/" + c["id"].(string)}, {"GET", "/wallet/access-log"}} {
		for _, tk := range []string{"", "not-a-session-token"} {
			if code, _ := callRaw(t, r.method, s.URL+r.path, tk, nil); code != 401 {
				t.Errorf("%s %s with token %q: %d, want 401", r.method, r.path, tk, code)
			}
		}
	}
}

func TestConsentNotAskedForIsRefused(t *testing.T) {
	a := issuerApp.App
	opts := appConsentOptions(a)
	opts.ConsentIssuer = wideningIssuer{consentIssuer{a}}
	s := startServer(t, walletapi.Options{ConsentOptions: opts})
	tok := signUp(t, s, "alice")
	code, out := call(t, "POST", s.URL+"/wallet/consents", tok, consentBody("did:web:clinic.example"))
	expect(t, "widened consent", code, out, 502)
	if out["type"] == nil || !strings.Contains(out["detail"].(string), "not the consent asked for") {
		t.Fatalf("problem: %v", out)
	}
	if cs := consentList(t, s, tok); len(cs) != 0 {
		t.Fatalf("stored %v", cs)
	}
	code, l := call(t, "GET", s.URL+"/wallet/credentials", tok, nil)
	expect(t, "credentials", code, l, 200)
	if n := len(l["credentials"].([]any)); n != 0 {
		t.Fatalf("the widened credential was kept: %d credentials", n)
	}
}

func TestConsentRoutesOnlyWhenConfigured(t *testing.T) {
	s := startServer(t, walletapi.Options{})
	tok := signUp(t, s, "alice")
	for _, p := range []string{"/wallet/consents", "/wallet/access-log"} {
		if code, _ := callRaw(t, "GET", s.URL+p, tok, nil); code != 404 {
			t.Errorf("GET %s without its dependencies: %d, want 404", p, code)
		}
	}
}
