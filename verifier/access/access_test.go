package access_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/medid/medid/did"
	"github.com/medid/medid/verifier/access"
	"github.com/medid/medid/verifier/audit"
)

// TestDecisions is the table of the endpoint's outcomes. Each case makes a
// real consent SD-JWT VC, presents it with a key binding (directly, or
// through a session), asks for a decision and checks the answer and the
// access log entry it must have left.
func TestDecisions(t *testing.T) {
	type setup struct {
		f                   *fixture
		clinic, other, prac party
	}
	cases := []struct {
		name string
		// build returns the body's consent part (presentation or
		// session_id) and the request.
		build      func(s *setup) (consent map[string]any, req map[string]any)
		permit     bool
		reason     string
		claimNames bool // the log names the consent's claims
	}{
		{name: "permit, direct presentation", permit: true, reason: "scope_granted", claimNames: true,
			build: func(s *setup) (map[string]any, map[string]any) {
				cred, _ := s.f.issue(s.clinic, consentClaims(s.clinic.did), false)
				n := s.f.nonce()
				return direct(s.f.present(s.clinic, cred, n), n), request(s.clinic.did)
			}},
		{name: "permit, session", permit: true, reason: "scope_granted", claimNames: true,
			build: func(s *setup) (map[string]any, map[string]any) {
				cred, _ := s.f.issue(s.clinic, consentClaims(s.clinic.did), false)
				s.f.sessions.answer("sess-ok", s.f.present(s.clinic, cred, "session-nonce"), "session-nonce")
				return map[string]any{"session_id": "sess-ok"}, request(s.clinic.did)
			}},
		{name: "permit, filtered scope", permit: true, reason: "scope_granted", claimNames: true,
			build: func(s *setup) (map[string]any, map[string]any) {
				cred, _ := s.f.issue(s.clinic, consentClaims(s.clinic.did), false)
				n := s.f.nonce()
				r := request(s.clinic.did)
				r["resource_type"], r["interaction"], r["params"] = "Condition", "search-type", map[string]any{"category": []any{"problem-list-item"}}
				return direct(s.f.present(s.clinic, cred, n), n), r
			}},
		{name: "permit, delegated", permit: true, reason: "scope_granted", claimNames: true,
			build: func(s *setup) (map[string]any, map[string]any) {
				c := consentClaims(s.clinic.did)
				c["delegable"] = true
				cred, _ := s.f.issue(s.clinic, c, false)
				n := s.f.nonce()
				r := request(s.prac.did)
				r["delegated_by"] = s.clinic.did.String()
				return direct(s.f.present(s.clinic, cred, n), n), r
			}},
		{name: "deny, revoked consent", reason: "consent_revoked",
			build: func(s *setup) (map[string]any, map[string]any) {
				cred, idx := s.f.issue(s.clinic, consentClaims(s.clinic.did), false)
				s.f.status.set(idx, "revoked")
				n := s.f.nonce()
				return direct(s.f.present(s.clinic, cred, n), n), request(s.clinic.did)
			}},
		{name: "deny, suspended consent, session", reason: "consent_suspended",
			build: func(s *setup) (map[string]any, map[string]any) {
				cred, idx := s.f.issue(s.clinic, consentClaims(s.clinic.did), false)
				s.f.status.set(idx, "suspended")
				s.f.sessions.answer("sess-susp", s.f.present(s.clinic, cred, "n2"), "n2")
				return map[string]any{"session_id": "sess-susp"}, request(s.clinic.did)
			}},
		{name: "deny, no status entry", reason: "status_unknown", claimNames: true,
			build: func(s *setup) (map[string]any, map[string]any) {
				cred, _ := s.f.issue(s.clinic, consentClaims(s.clinic.did), true)
				n := s.f.nonce()
				return direct(s.f.present(s.clinic, cred, n), n), request(s.clinic.did)
			}},
		{name: "deny, no status entry, session", reason: "status_unknown", claimNames: true,
			build: func(s *setup) (map[string]any, map[string]any) {
				cred, _ := s.f.issue(s.clinic, consentClaims(s.clinic.did), true)
				s.f.sessions.answer("sess-nostatus", s.f.present(s.clinic, cred, "n4"), "n4")
				return map[string]any{"session_id": "sess-nostatus"}, request(s.clinic.did)
			}},
		{name: "deny, presenter other than the grantee", reason: "grantee_mismatch", claimNames: true,
			// The consent names the clinic, but is bound to (and presented
			// by) another party, who asks in its own name.
			build: func(s *setup) (map[string]any, map[string]any) {
				cred, _ := s.f.issue(s.other, consentClaims(s.clinic.did), false)
				n := s.f.nonce()
				return direct(s.f.present(s.other, cred, n), n), request(s.other.did)
			}},
		{name: "deny, asking in the grantee's name with another's presentation", reason: "presenter_mismatch", claimNames: true,
			build: func(s *setup) (map[string]any, map[string]any) {
				cred, _ := s.f.issue(s.other, consentClaims(s.clinic.did), false)
				n := s.f.nonce()
				return direct(s.f.present(s.other, cred, n), n), request(s.clinic.did)
			}},
		{name: "deny, unknown session", reason: "session_not_found",
			build: func(s *setup) (map[string]any, map[string]any) {
				return map[string]any{"session_id": "no-such-session"}, request(s.clinic.did)
			}},
		{name: "deny, purpose not granted", reason: "purpose_not_granted", claimNames: true,
			build: func(s *setup) (map[string]any, map[string]any) {
				cred, _ := s.f.issue(s.clinic, consentClaims(s.clinic.did), false)
				n := s.f.nonce()
				r := request(s.clinic.did)
				r["purpose"] = "HRESCH"
				return direct(s.f.present(s.clinic, cred, n), n), r
			}},
		{name: "deny, excluded label", reason: "label_excluded", claimNames: true,
			build: func(s *setup) (map[string]any, map[string]any) {
				cred, _ := s.f.issue(s.clinic, consentClaims(s.clinic.did), false)
				n := s.f.nonce()
				r := request(s.clinic.did)
				r["labels"] = []any{"PSY"}
				return direct(s.f.present(s.clinic, cred, n), n), r
			}},
		{name: "deny, scope not granted", reason: "scope_not_granted", claimNames: true,
			build: func(s *setup) (map[string]any, map[string]any) {
				cred, _ := s.f.issue(s.clinic, consentClaims(s.clinic.did), false)
				n := s.f.nonce()
				r := request(s.clinic.did)
				r["interaction"] = "update"
				return direct(s.f.present(s.clinic, cred, n), n), r
			}},
		{name: "deny, filter missing", reason: "scope_not_granted", claimNames: true,
			build: func(s *setup) (map[string]any, map[string]any) {
				cred, _ := s.f.issue(s.clinic, consentClaims(s.clinic.did), false)
				n := s.f.nonce()
				r := request(s.clinic.did)
				r["resource_type"] = "Condition"
				return direct(s.f.present(s.clinic, cred, n), n), r
			}},
		{name: "deny, access after the consent ended", reason: "consent_expired", claimNames: true,
			build: func(s *setup) (map[string]any, map[string]any) {
				cred, _ := s.f.issue(s.clinic, consentClaims(s.clinic.did), false)
				n := s.f.nonce()
				r := request(s.clinic.did)
				r["time"] = "2026-08-01T00:00:00Z"
				return direct(s.f.present(s.clinic, cred, n), n), r
			}},
		{name: "deny, another patient", reason: "patient_mismatch", claimNames: true,
			build: func(s *setup) (map[string]any, map[string]any) {
				c := consentClaims(s.clinic.did)
				c["patient"] = "did:example:someone-else"
				cred, _ := s.f.issue(s.clinic, c, false)
				n := s.f.nonce()
				return direct(s.f.present(s.clinic, cred, n), n), request(s.clinic.did)
			}},
		{name: "deny, delegation of a non-delegable consent", reason: "not_delegable", claimNames: true,
			build: func(s *setup) (map[string]any, map[string]any) {
				cred, _ := s.f.issue(s.clinic, consentClaims(s.clinic.did), false)
				n := s.f.nonce()
				r := request(s.prac.did)
				r["delegated_by"] = s.clinic.did.String()
				return direct(s.f.present(s.clinic, cred, n), n), r
			}},
		{name: "deny, delegation not from the grantee", reason: "delegation_mismatch", claimNames: true,
			build: func(s *setup) (map[string]any, map[string]any) {
				c := consentClaims(s.clinic.did)
				c["delegable"] = true
				cred, _ := s.f.issue(s.other, c, false)
				n := s.f.nonce()
				r := request(s.prac.did)
				r["delegated_by"] = s.other.did.String()
				return direct(s.f.present(s.other, cred, n), n), r
			}},
		{name: "deny, invalid consent claims", reason: "invalid_consent", claimNames: true,
			build: func(s *setup) (map[string]any, map[string]any) {
				c := consentClaims(s.clinic.did)
				c["scopes"] = []any{"user/Observation.rs"}
				c["note"] = "an undefined claim"
				cred, _ := s.f.issue(s.clinic, c, false)
				n := s.f.nonce()
				return direct(s.f.present(s.clinic, cred, n), n), request(s.clinic.did)
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			s := &setup{f: f, clinic: newParty(t), other: newParty(t), prac: newParty(t)}
			consent, req := tc.build(s)
			body := map[string]any{"request": req}
			for k, v := range consent {
				body[k] = v
			}
			code, out := f.post(access.PathDecisions, body, adminToken)
			if code != http.StatusOK {
				t.Fatalf("%d %v", code, out)
			}
			want := "deny"
			if tc.permit {
				want = "permit"
			}
			codes := reasonCodes(out)
			if out["decision"] != want || !slices.Contains(codes, tc.reason) {
				t.Fatalf("decision %v with reasons %v; want %s with %s", out["decision"], out["reasons"], want, tc.reason)
			}
			if !tc.permit && slices.Contains(codes, "scope_granted") {
				t.Fatalf("a denial lists scope_granted: %v", codes)
			}

			// The decision is on the patient's access log, committed to
			// the ledger.
			l, n := f.latest()
			if n != 1 {
				t.Fatalf("%d log entries, want 1", n)
			}
			e := l.Entry
			auditRef := out["audit"].(map[string]any)
			if l.ID != auditRef["id"] || !l.OnLedger || uint64(auditRef["leaf_index"].(float64)) != l.LeafIndex {
				t.Fatalf("log entry %s (leaf %d, on ledger %v), answer names %v", l.ID, l.LeafIndex, l.OnLedger, auditRef)
			}
			grantee := req["grantee"].(string)
			if e.Kind != audit.KindAccessDecision || string(e.Outcome) != want || e.Client != grantee ||
				e.Verifier != "did:medid:verifier" || e.Purpose != req["purpose"] {
				t.Fatalf("log entry %+v", e)
			}
			if !slices.Equal(e.Reasons, sorted(codes)) {
				t.Fatalf("logged reasons %v, answered %v", e.Reasons, codes)
			}
			if len(e.Scopes) != 1 || !strings.HasPrefix(e.Scopes[0], "patient/"+req["resource_type"].(string)+".") {
				t.Fatalf("logged scopes %v", e.Scopes)
			}
			if tc.claimNames != slices.Contains(e.ClaimNames, "scopes") || tc.claimNames != (len(e.CredentialTypes) == 1) {
				t.Fatalf("logged claim names %v, types %v", e.ClaimNames, e.CredentialTypes)
			}
			for _, name := range e.ClaimNames {
				if strings.Contains(name, "did:") || strings.Contains(name, "TREAT") {
					t.Fatalf("a claim value reached the log: %v", e.ClaimNames)
				}
			}
		})
	}
}

func direct(presentation, nonce string) map[string]any {
	return map[string]any{"presentation": map[string]any{"format": "dc+sd-jwt", "vp_token": presentation, "nonce": nonce}}
}

func reasonCodes(out map[string]any) []string {
	var codes []string
	rs, _ := out["reasons"].([]any)
	for _, r := range rs {
		codes = append(codes, r.(map[string]any)["code"].(string))
	}
	return codes
}

func sorted(l []string) []string {
	l = slices.Clone(l)
	slices.Sort(l)
	return slices.Compact(l)
}

// TestErrors covers the answers that are not decisions: bad input (400
// naming the field), a session not finished (409), a presentation that
// does not verify (422), no admin token (401).
func TestErrors(t *testing.T) {
	f := newFixture(t)
	clinic := newParty(t)
	good := request(clinic.did)
	with := func(k string, v any) map[string]any {
		r := map[string]any{}
		for kk, vv := range good {
			r[kk] = vv
		}
		if v == nil {
			delete(r, k)
		} else {
			r[k] = v
		}
		return map[string]any{"session_id": "s", "request": r}
	}
	for name, tc := range map[string]struct {
		body  any
		field string
	}{
		"no consent":         {map[string]any{"request": good}, "presentation"},
		"both":               {map[string]any{"request": good, "session_id": "s", "presentation": map[string]any{"vp_token": "x~", "nonce": "n"}}, "session_id"},
		"no request":         {map[string]any{"session_id": "s"}, "request"},
		"unknown member":     {map[string]any{"session_id": "s", "request": good, "consent": 1}, "consent"},
		"bad patient":        {with("patient", "patient-42"), "request.patient"},
		"no grantee":         {with("grantee", nil), "request.grantee"},
		"bad delegated_by":   {with("delegated_by", "clinic"), "request.delegated_by"},
		"self delegation":    {with("delegated_by", clinic.did.String()), "request.delegated_by"},
		"resource type":      {with("resource_type", "Observations"), "request.resource_type"},
		"interaction":        {with("interaction", "x"), "request.interaction"},
		"purpose":            {with("purpose", "CURIOSITY"), "request.purpose"},
		"no purpose":         {with("purpose", nil), "request.purpose"},
		"label":              {with("labels", []any{"SECRET"}), "request.labels"},
		"time":               {with("time", "tomorrow"), "request.time"},
		"param type":         {with("params", map[string]any{"code": 7}), "request.params.code"},
		"patient type":       {with("patient", 7), "request.patient"},
		"empty session id":   {map[string]any{"session_id": "", "request": good}, "session_id"},
		"no vp_token":        {map[string]any{"presentation": map[string]any{"nonce": "n"}, "request": good}, "presentation.vp_token"},
		"number vp_token":    {map[string]any{"presentation": map[string]any{"vp_token": 5, "nonce": "n"}, "request": good}, "presentation.vp_token"},
		"no nonce":           {map[string]any{"presentation": map[string]any{"vp_token": "x~"}, "request": good}, "presentation.nonce"},
		"format":             {map[string]any{"presentation": map[string]any{"format": "mso_mdoc", "vp_token": "x~", "nonce": "n"}, "request": good}, "presentation.format"},
		"nonce not issued":   {map[string]any{"presentation": map[string]any{"vp_token": "x~", "nonce": "made-up"}, "request": good}, "presentation.nonce"},
		"not a presentation": {map[string]any{"presentation": map[string]any{"vp_token": "not an sd-jwt", "nonce": f.nonce()}, "request": good}, "presentation.vp_token"},
	} {
		code, out := f.post(access.PathDecisions, tc.body, adminToken)
		if code != http.StatusBadRequest || out["field"] != tc.field {
			t.Errorf("%s: %d %v; want 400 naming %s", name, code, out, tc.field)
		}
	}
	if code, out := f.postRaw(access.PathDecisions, []byte(`{"session_id":"s"`), adminToken); code != http.StatusBadRequest {
		t.Errorf("truncated JSON: %d %v", code, out)
	}
	if _, n := f.latest(); n != 0 {
		t.Fatalf("bad requests left %d log entries", n)
	}

	// Sessions not finished.
	f.sessions.start("pending")
	f.sessions.expire("expired")
	for id, kind := range map[string]string{"pending": "session-pending", "expired": "session-expired"} {
		code, out := f.post(access.PathDecisions, map[string]any{"session_id": id, "request": good}, adminToken)
		if code != http.StatusConflict || !strings.HasSuffix(out["type"].(string), "#"+kind) {
			t.Errorf("session %s: %d %v", id, code, out)
		}
	}

	// A presentation by a forged issuer fails verification: 422, logged.
	forger := newFixture(t)
	cred, _ := forger.issue(clinic, consentClaims(clinic.did), false)
	n := f.nonce()
	code, out := f.post(access.PathDecisions, map[string]any{"presentation": map[string]any{"vp_token": f.present(clinic, cred, n), "nonce": n},
		"request": good}, adminToken)
	if code != http.StatusUnprocessableEntity || !strings.HasSuffix(out["type"].(string), "#verification-failed") {
		t.Fatalf("forged consent: %d %v", code, out)
	}
	if l, _ := f.latest(); l.Entry.Outcome != audit.OutcomeDeny || !slices.Contains(l.Entry.Reasons, "verification_failed") {
		t.Fatalf("forged consent logged as %+v", l.Entry)
	}
	// The nonce is spent: the same presentation again is refused.
	code, out = f.post(access.PathDecisions, map[string]any{"presentation": map[string]any{"vp_token": f.present(clinic, cred, n), "nonce": n},
		"request": good}, adminToken)
	if code != http.StatusBadRequest || out["field"] != "presentation.nonce" {
		t.Fatalf("replayed nonce: %d %v", code, out)
	}

	// A session whose presentation failed for another reason than status.
	fcred, _ := forger.issue(clinic, consentClaims(clinic.did), false)
	f.sessions.answer("failed", f.present(clinic, fcred, "n3"), "n3")
	code, out = f.post(access.PathDecisions, map[string]any{"session_id": "failed", "request": good}, adminToken)
	if code != http.StatusUnprocessableEntity || !strings.HasSuffix(out["type"].(string), "#session-failed") {
		t.Fatalf("failed session: %d %v", code, out)
	}

	// A presentation made for another nonce than the one it carries.
	good2, _ := f.issue(clinic, consentClaims(clinic.did), false)
	n = f.nonce()
	code, out = f.post(access.PathDecisions, map[string]any{"presentation": map[string]any{"vp_token": f.present(clinic, good2, "other"), "nonce": n},
		"request": good}, adminToken)
	if code != http.StatusUnprocessableEntity {
		t.Fatalf("presentation for another nonce: %d %v", code, out)
	}

	// Admin only.
	if code, _ := f.post(access.PathDecisions, map[string]any{"session_id": "s", "request": good}, ""); code != http.StatusUnauthorized {
		t.Fatalf("without the admin token: %d", code)
	}
	if code, _ := f.post(access.PathNonces, map[string]any{}, "wrong-token-0123456789"); code != http.StatusUnauthorized {
		t.Fatalf("nonce without the admin token: %d", code)
	}
}

// TestNoDecisionWithoutTheLog: a decision that cannot be logged is not
// given.
func TestNoDecisionWithoutTheLog(t *testing.T) {
	f := newFixture(t)
	clinic := newParty(t)
	cred, _ := f.issue(clinic, consentClaims(clinic.did), false)
	n := f.nonce()
	if err := f.ledger.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	code, out := f.post(access.PathDecisions, map[string]any{"presentation": map[string]any{"vp_token": f.present(clinic, cred, n), "nonce": n},
		"request": request(clinic.did)}, adminToken)
	if code != http.StatusServiceUnavailable || out["decision"] != nil {
		t.Fatalf("with the ledger down: %d %v", code, out)
	}
}

// TestAcceptNoStatus: with AcceptNoStatus, a consent without a status
// entry can permit.
func TestAcceptNoStatus(t *testing.T) {
	f := newFixture(t)
	clinic := newParty(t)
	cred, _ := f.issue(clinic, consentClaims(clinic.did), true)
	d, err := f.decideWith(access.Options{AcceptNoStatus: true}, cred, clinic)
	if err != nil || !d.Permit {
		t.Fatalf("Decide = %+v, %v", d, err)
	}
}

// decideWith builds a second service over the fixture's log and decides a
// direct presentation of cred by holder through the Go API.
func (f *fixture) decideWith(o access.Options, cred string, holder party) (*access.Decision, error) {
	f.t.Helper()
	v := &sdjwtVerifier{issuer: f.issuer.Public(), status: f.status, now: f.clock.Now}
	o.VerifierID, o.Audience, o.Presentations, o.Now = "did:medid:verifier", audience, v, f.clock.Now
	o.Holders = holdersFor(holder)
	store := openStore(f.t)
	svc, err := access.New(store, f.log, o)
	if err != nil {
		f.t.Fatal(err)
	}
	nonce, err := svc.NewNonce(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	body := map[string]any{"presentation": map[string]any{"vp_token": f.present(holder, cred, nonce.Nonce), "nonce": nonce.Nonce},
		"request": request(holder.did)}
	req, err := access.ParseDecisionRequest(mustJSON(f.t, body))
	if err != nil {
		f.t.Fatal(err)
	}
	if nonce.ExpiresAt.Sub(f.clock.Now()) != 5*time.Minute {
		f.t.Fatalf("nonce expires at %s", nonce.ExpiresAt)
	}
	return svc.Decide(context.Background(), req)
}

// TestPatientHeldConsent: a consent bound to the patient's key, presented
// by the patient's wallet, permits its grantee and nobody else.
func TestPatientHeldConsent(t *testing.T) {
	f := newFixture(t)
	patient, clinic, other := newParty(t), newParty(t), newParty(t)
	c := consentClaims(clinic.did)
	c["patient"] = patient.did.String()
	cred, _ := f.issue(patient, c, false)
	for _, tc := range []struct {
		asking did.DID
		want   string
		reason string
	}{
		{clinic.did, "permit", "scope_granted"},
		{other.did, "deny", "grantee_mismatch"},
	} {
		n := f.nonce()
		req := request(tc.asking)
		req["patient"] = patient.did.String()
		body := map[string]any{"request": req}
		for k, v := range direct(f.present(patient, cred, n), n) {
			body[k] = v
		}
		code, out := f.post(access.PathDecisions, body, adminToken)
		if code != http.StatusOK || out["decision"] != tc.want || !slices.Contains(reasonCodes(out), tc.reason) {
			t.Fatalf("asked by %s: %d %v", tc.asking, code, out)
		}
	}
}
