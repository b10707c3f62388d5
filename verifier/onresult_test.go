package verifier_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/medid/medid/credentials/health"
	"github.com/medid/medid/credentials/jwtvc"
	"github.com/medid/medid/verifier"
)

// events collects what Options.OnResult receives.
type events struct {
	mu   sync.Mutex
	list []verifier.Event
}

func (e *events) record(_ context.Context, ev verifier.Event) error {
	e.mu.Lock()
	e.list = append(e.list, ev)
	e.mu.Unlock()
	return nil
}

// take returns the events since the last call.
func (e *events) take() []verifier.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := e.list
	e.list = nil
	return out
}

// one returns the single event since the last call.
func (e *events) one(t *testing.T, what string) verifier.Event {
	t.Helper()
	got := e.take()
	if len(got) != 1 {
		t.Fatalf("%s: %d events, want 1: %+v", what, len(got), got)
	}
	// Names only: no claim value may reach the hook.
	if s := fmt.Sprintf("%+v", got[0]); containsAny(s, "Ada", "Lovelace", "1990-12-10", "MRN-0042") {
		t.Fatalf("%s: the event carries a claim value: %s", what, s)
	}
	return got[0]
}

func containsAny(s string, subs ...string) bool {
	return slices.ContainsFunc(subs, func(sub string) bool { return strings.Contains(s, sub) })
}

func TestHTTPOnResult(t *testing.T) {
	var got events
	w := newWorld(t, func(o *verifier.Options) { o.OnResult = got.record })
	srv := serve(t, w)
	opts := map[string]any{"challenge": nonce, "domain": audience}
	// Revoked before the status list is first fetched (and cached).
	revoked, idx := w.issueSD(sdOpts{})
	w.status.setToken(idx, 1)

	// A verified SD-JWT VC presentation: the vct, the revealed claim names
	// (never-disclosable ones and given_name, not family_name) and the
	// did:jwk of the key that proved possession.
	sd, _ := w.issueSD(sdOpts{})
	p := w.present(sd, nonce, audience, []any{"given_name"})
	if r := post(t, srv, "/presentations/verify", adminToken, body(map[string]any{"verifiablePresentation": p, "options": opts})); r.status != 200 {
		t.Fatalf("valid presentation: %d %v", r.status, r.body)
	}
	ev := got.one(t, "verified presentation")
	if !ev.Presentation || !ev.Verified || len(ev.Failed) != 0 || ev.Reason != "" {
		t.Fatalf("outcome %+v", ev)
	}
	if !slices.Equal(ev.CredentialTypes, []string{vctOf(health.TypePatientIdentity)}) {
		t.Fatalf("credential types %v", ev.CredentialTypes)
	}
	if !slices.Contains(ev.ClaimNames, "given_name") || slices.Contains(ev.ClaimNames, "family_name") || !slices.IsSorted(ev.ClaimNames) {
		t.Fatalf("claim names %v", ev.ClaimNames)
	}
	if ev.Patient.String() != w.holder.did {
		t.Fatalf("patient %q, want the holder's did:jwk %q", ev.Patient, w.holder.did)
	}

	// A presentation for another challenge: failed holder_binding, no
	// patient and no names.
	wrong := map[string]any{"challenge": "another", "domain": audience}
	if r := post(t, srv, "/presentations/verify", adminToken, body(map[string]any{"verifiablePresentation": p, "options": wrong})); r.status != 422 {
		t.Fatalf("wrong challenge: %d", r.status)
	}
	ev = got.one(t, "wrong challenge")
	if !ev.Presentation || ev.Verified || !slices.Equal(ev.Failed, []verifier.CheckName{verifier.CheckHolderBinding}) ||
		!ev.Patient.IsZero() || ev.ClaimNames != nil || ev.CredentialTypes != nil {
		t.Fatalf("wrong challenge: %+v", ev)
	}

	// A JWT VC on its own: its subject DID is the patient.
	jwt, _ := w.issueJWT(jwtOpts{format: jwtvc.VCJWT})
	if r := post(t, srv, "/credentials/verify", adminToken, body(map[string]any{"verifiableCredential": jwt})); r.status != 200 {
		t.Fatalf("valid credential: %d %v", r.status, r.body)
	}
	ev = got.one(t, "verified credential")
	if ev.Presentation || !ev.Verified || ev.Patient.String() != w.holder.did ||
		!slices.Equal(ev.CredentialTypes, []string{health.TypePatientIdentity}) || !slices.Contains(ev.ClaimNames, "birthdate") {
		t.Fatalf("verified credential: %+v", ev)
	}

	// A revoked credential: failed status.
	if r := post(t, srv, "/credentials/verify", adminToken, body(map[string]any{"verifiableCredential": revoked})); r.status != 422 {
		t.Fatalf("revoked: %d %v", r.status, r.body)
	}
	ev = got.one(t, "revoked credential")
	if ev.Verified || !slices.Equal(ev.Failed, []verifier.CheckName{verifier.CheckStatus}) || !ev.Patient.IsZero() {
		t.Fatalf("revoked: %+v", ev)
	}

	// Input the verifier cannot check is reported with its reason.
	for _, tc := range []struct{ body, reason string }{
		{`{"verifiableCredential": "hello"}`, "malformed"},
		{`{"verifiableCredential": {"type": "EnvelopedVerifiableCredential", "id": "data:application/mdoc,AAAA"}}`, "unsupported"},
	} {
		if r := post(t, srv, "/credentials/verify", adminToken, []byte(tc.body)); r.status < 400 || r.status >= 500 {
			t.Fatalf("%s: %d", tc.reason, r.status)
		}
		ev = got.one(t, tc.reason)
		if ev.Verified || ev.Reason != tc.reason || len(ev.Failed) != 0 {
			t.Fatalf("%s: %+v", tc.reason, ev)
		}
	}

	// A request refused before verification (no challenge, no admin
	// token) is not a verification and is not reported.
	post(t, srv, "/presentations/verify", adminToken, body(map[string]any{"verifiablePresentation": p, "options": map[string]any{"domain": audience}}))
	post(t, srv, "/presentations/verify", "", body(map[string]any{"verifiablePresentation": p, "options": opts}))
	if l := got.take(); len(l) != 0 {
		t.Fatalf("refused requests were reported: %+v", l)
	}
}

// TestHTTPOnResultFailsClosed: when the hook cannot log a verification,
// the caller gets 503 problem+json with Retry-After and no result, for a
// verification that passed and for one that failed.
func TestHTTPOnResultFailsClosed(t *testing.T) {
	var calls atomic.Int32
	w := newWorld(t, func(o *verifier.Options) {
		o.OnResult = func(context.Context, verifier.Event) error {
			calls.Add(1)
			return errors.New("store unavailable")
		}
	})
	srv := serve(t, w)
	sd, _ := w.issueSD(sdOpts{})
	p := w.present(sd, nonce, audience, []any{"given_name"})
	for name, opts := range map[string]map[string]any{
		"valid":           {"challenge": nonce, "domain": audience},
		"wrong challenge": {"challenge": "another", "domain": audience},
	} {
		r := post(t, srv, "/presentations/verify", adminToken, body(map[string]any{"verifiablePresentation": p, "options": opts}))
		if r.status != 503 || r.ctype != "application/problem+json" || r.retryAfter != "1" || r.body["type"] == nil {
			t.Fatalf("%s: %d %s Retry-After %q %v", name, r.status, r.ctype, r.retryAfter, r.body)
		}
		if r.body["verified"] != nil || r.body["presentation"] != nil || r.body["checks"] != nil {
			t.Fatalf("%s: the unlogged result was answered: %v", name, r.body)
		}
	}
	jwt, _ := w.issueJWT(jwtOpts{format: jwtvc.VCJWT})
	if r := post(t, srv, "/credentials/verify", adminToken, body(map[string]any{"verifiableCredential": jwt})); r.status != 503 || r.body["credential"] != nil {
		t.Fatalf("credential: %d %v", r.status, r.body)
	}
	if n := calls.Load(); n != 3 {
		t.Fatalf("hook called %d times, want 3", n)
	}
}
