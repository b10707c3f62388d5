package walletapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/medid/medid/did"
	"github.com/medid/medid/verifier/audit"
)

// The wallet's copies of the access log's commitment, ledger leaf and
// pseudonym must be byte for byte the access log's own: otherwise every
// entry shows as altered. They are checked against verifier/audit here.

func mirrorEntry(e audit.Entry) AccessEntry {
	return AccessEntry{Kind: string(e.Kind), Time: e.Time, Verifier: e.Verifier, Client: e.Client, Patient: e.Patient,
		CredentialTypes: e.CredentialTypes, ClaimNames: e.ClaimNames, Scopes: e.Scopes, Purpose: e.Purpose,
		Outcome: string(e.Outcome), Reasons: e.Reasons, Seq: e.Seq, Prev: e.Prev}
}

func checkMirror(t *testing.T, e audit.Entry, salt []byte) {
	t.Helper()
	want, werr := audit.VerifyEntry(e, salt)
	got, gerr := accessCommitment(mirrorEntry(e), salt)
	if (werr == nil) != (gerr == nil) || got != want {
		t.Fatalf("commitment of %+v: wallet %q (%v), access log %q (%v)", e, got, gerr, want, werr)
	}
	if werr != nil {
		return
	}
	wl, werr := audit.LedgerEntry(want, e.Time)
	gl, gerr := accessLedgerEntry(got, e.Time)
	if werr != nil || gerr != nil || !bytes.Equal(wl, gl) {
		t.Fatalf("ledger leaf: wallet %s (%v), access log %s (%v)", gl, gerr, wl, werr)
	}
}

func TestAccessCommitmentMirrorsTheAccessLog(t *testing.T) {
	salt := bytes.Repeat([]byte{5}, 32)
	at := time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.FixedZone("x", 3600))
	for _, e := range []audit.Entry{
		{Kind: audit.KindAccessDecision, Time: at, Verifier: "did:medid:v", Client: "did:web:clinic.example",
			Patient: strings.Repeat("A", 43), CredentialTypes: []string{"HealthConsentCredential"},
			ClaimNames: []string{"grantee", "scopes"}, Scopes: []string{"patient/Observation.rs"}, Purpose: "TREAT",
			Outcome: audit.OutcomeDeny, Reasons: []string{"consent_revoked"}, Seq: 7, Prev: "abc"},
		{Kind: audit.KindLogin, Time: at.Truncate(time.Second), Verifier: "v", Outcome: audit.OutcomeVerified},
		{Kind: audit.KindVerification, Time: at, Verifier: "é \u2028 <&> \"q\"", Purpose: "ünïcode 😀",
			Outcome: audit.OutcomeFailed, Reasons: []string{"signature"}, Seq: 1},
	} {
		checkMirror(t, e, salt)
	}
	// A wrong salt size is refused by both.
	checkMirror(t, audit.Entry{Kind: audit.KindLogin, Time: at, Verifier: "v", Outcome: audit.OutcomeVerified}, salt[:31])

	d, err := did.Parse("did:jwk:eyJrdHkiOiJPS1AiLCJjcnYiOiJFZDI1NTE5IiwieCI6IjExcVlBWUt4Q3JmVlNfN1R5V1FIT2c3aGN2UGFwaU1scndJYWFQY0hVUm8ifQ")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := accessPseudonym(salt, d.String()), audit.PseudonymFrom(salt, d); got != want {
		t.Fatalf("pseudonym: wallet %q, access log %q", got, want)
	}
}

// FuzzAccessCommitmentMirror: for any entry content, the wallet's
// commitment and leaf are the access log's.
func FuzzAccessCommitmentMirror(f *testing.F) {
	f.Add("access-decision", "did:medid:v", "client", "TREAT", "permit", "HealthConsentCredential", "scopes", uint64(1), "", int64(1767225600123456789))
	f.Add("login", "v\u2028", "<&>", "", "verified", "", "", uint64(0), "prev", int64(0))
	f.Add("x", "\x00\xff", "\"", "\\", "deny", "a,b", "é", uint64(1<<63), "p", int64(-1))
	f.Fuzz(func(t *testing.T, kind, verifier, client, purpose, outcome, ctype, claim string, seq uint64, prev string, nanos int64) {
		e := audit.Entry{Kind: audit.Kind(kind), Time: time.Unix(0, nanos), Verifier: verifier, Client: client,
			Purpose: purpose, Outcome: audit.Outcome(outcome), Seq: seq, Prev: prev}
		if ctype != "" {
			e.CredentialTypes = []string{ctype}
		}
		if claim != "" {
			e.ClaimNames = []string{claim, ctype}
		}
		checkMirror(t, e, bytes.Repeat([]byte{byte(seq)}, 32))
	})
}

// FuzzParseAccessCursor: a cursor from a client never panics, and one that
// parses encodes back to one that parses the same.
func FuzzParseAccessCursor(f *testing.F) {
	p := strings.Repeat("B", 43)
	good := (&accessCursor{S: map[string]accessState{p: {C: "c2VxOjU", Seq: 5}, strings.Repeat("C", 43): {Done: true}}}).encode()
	f.Add(good)
	f.Add("")
	f.Add("e30")
	f.Add(base64.RawURLEncoding.EncodeToString([]byte(`{"s":{"` + p + `":{"d":true,"q":3}}}`)))
	f.Add(base64.RawURLEncoding.EncodeToString([]byte(`{"s":{"short":{"q":3}}}`)))
	f.Add(base64.RawURLEncoding.EncodeToString([]byte(`{"s":{"` + p + `":{"q":1}}, "x": 1}`)))
	f.Add(base64.RawURLEncoding.EncodeToString([]byte(`{"s":{"` + p + `":{"q":1}}} {}`)))
	f.Fuzz(func(t *testing.T, s string) {
		c, err := parseAccessCursor(s)
		if err != nil {
			if c != nil {
				t.Fatal("a cursor and an error")
			}
			return
		}
		again, err := parseAccessCursor(c.encode())
		if err != nil {
			t.Fatalf("re-encoded cursor does not parse: %v", err)
		}
		a, _ := json.Marshal(c)
		b, _ := json.Marshal(again)
		if !bytes.Equal(a, b) {
			t.Fatalf("round trip: %s then %s", a, b)
		}
	})
}

func TestParseAccessCursor(t *testing.T) {
	p := strings.Repeat("B", 43)
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	for _, c := range []struct {
		in string
		ok bool
	}{
		{enc(`{"s":{"` + p + `":{"c":"x","q":3}}}`), true},
		{enc(`{"s":{"` + p + `":{"d":true}}}`), true},
		{enc(`{"s":{}}`), false},                               // says nothing
		{enc(`{"s":{"` + p + `":{"c":"x"}}}`), false},          // moved on, nothing shown
		{enc(`{"s":{"` + p + `":{"d":true,"c":"x"}}}`), false}, // done, yet more
		{enc(`{"s":{"not-a-pseudonym":{"q":3}}}`), false},
		{enc(`{"s":{"` + p + `":{"q":3}},"t":1}`), false}, // unknown member
		{enc(`{"s":{"` + p + `":{"c":"` + strings.Repeat("x", 513) + `","q":3}}}`), false},
		{"%%%", false},
		{strings.Repeat("A", maxAccessCursor+4), false},
	} {
		_, err := parseAccessCursor(c.in)
		if (err == nil) != c.ok {
			t.Errorf("%.60s: err %v, want ok %v", c.in, err, c.ok)
		}
	}
}
