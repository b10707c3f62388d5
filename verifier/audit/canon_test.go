package audit

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gowebpki/jcs"
)

// canonicalJCS is how Canonical was computed before it wrote JCS
// directly: encoding/json, then a general JCS transform. Every commitment
// on a ledger made before then covers these bytes, so Canonical must
// give exactly them.
func canonicalJCS(e Entry) ([]byte, error) {
	raw, err := json.Marshal(committed{V: 1, Kind: e.Kind, Time: e.Time.UTC().Format(time.RFC3339Nano),
		Verifier: e.Verifier, Client: e.Client, Patient: e.Patient, CredentialTypes: e.CredentialTypes,
		ClaimNames: e.ClaimNames, Scopes: e.Scopes, Purpose: e.Purpose, Outcome: e.Outcome,
		Reasons: e.Reasons, Seq: e.Seq, Prev: e.Prev})
	if err != nil {
		return nil, err
	}
	return jcs.Transform(raw)
}

// ledgerEntryJCS is the same for LedgerEntry.
func ledgerEntryJCS(commitment string, t time.Time) ([]byte, error) {
	raw, err := json.Marshal(ledgerEntry{V: 1, Type: EntryType, Commitment: commitment, Time: t.UTC().Format(time.RFC3339Nano)})
	if err != nil {
		return nil, err
	}
	return jcs.Transform(raw)
}

// sameCanonical fails t unless Canonical(e) is the oracle's bytes, and
// returns them.
func sameCanonical(t *testing.T, e Entry) []byte {
	t.Helper()
	got, err := Canonical(e)
	if err != nil {
		t.Fatal(err)
	}
	want, err := canonicalJCS(e)
	if err != nil {
		t.Fatalf("oracle: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("entry %+v:\nCanonical = %q\nwant        %q", e, got, want)
	}
	return got
}

// sameLedgerEntry fails t unless LedgerEntry(c, tm) is the oracle's bytes.
func sameLedgerEntry(t *testing.T, c string, tm time.Time) {
	t.Helper()
	got, err := LedgerEntry(c, tm)
	if err != nil {
		t.Fatal(err)
	}
	want, err := ledgerEntryJCS(c, tm)
	if err != nil {
		t.Fatalf("oracle: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("LedgerEntry(%q) = %q, want %q", c, got, want)
	}
}

// trickyStrings are strings whose JSON and JCS forms differ from their
// bytes: escapes, control characters, invalid UTF-8, characters that
// encoding/json escapes for HTML but JCS does not, surrogate encodings.
var trickyStrings = []string{
	"", "plain", `quote " and backslash \`, "tab\tnl\nret\rff\fbs\b", "\x00\x01\x1f\x7f",
	"<script>&amp;</script>", "\u2028\u2029", "é, 漢字, 🙂", "\xff", "a\xc3", "\xed\xa0\x80", "\xf4\x90\x80\x80",
	"ok\xe2\x82", "/slash/", "\ufffd",
}

func TestCanonicalMatchesJCS(t *testing.T) {
	base := Entry{Kind: KindVerification, Time: time.Date(2026, 11, 24, 7, 0, 0, 123456000, time.FixedZone("x", 3600)),
		Verifier: "did:medid:verifier", Outcome: OutcomeVerified}
	cases := []Entry{
		base,
		{}, // every member empty: the ones without omitempty still written
		{Kind: KindLogin, Time: time.Unix(0, 0), Verifier: "v", Client: "c", Patient: "p", CredentialTypes: []string{"A", "B"},
			ClaimNames: []string{"given_name", "address.country"}, Scopes: []string{"patient/*.rs"}, Purpose: "treatment",
			Outcome: OutcomeFailed, Reasons: []string{"signature"}, Seq: 42, Prev: "abc"},
		{Kind: KindAccessDecision, Time: base.Time, Verifier: "v", Seq: maxExactInt, ClaimNames: []string{}, Reasons: []string{""}},
	}
	for _, s := range trickyStrings {
		e := base
		e.Verifier, e.Client, e.Purpose, e.Prev = s, s, s, s
		e.ClaimNames, e.Reasons = []string{s, "x"}, []string{s}
		e.Kind, e.Outcome = Kind(s), Outcome(s)
		cases = append(cases, e)
	}
	for i, e := range cases {
		if got := sameCanonical(t, e); !utf8.Valid(got) || !json.Valid(got) {
			t.Errorf("case %d: Canonical = %q is not valid UTF-8 JSON", i, got)
		}
	}
	for _, s := range trickyStrings {
		sameLedgerEntry(t, s, time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC))
	}
}

// TestCanonicalRandomEntries compares Canonical with the oracle on
// entries built from random runes and bytes.
func TestCanonicalRandomEntries(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	str := func() string {
		if r.IntN(4) == 0 {
			return ""
		}
		var b strings.Builder
		for range r.IntN(12) {
			switch r.IntN(4) {
			case 0:
				b.WriteByte(byte(r.IntN(256)))
			case 1:
				b.WriteRune(rune(r.IntN(0x80)))
			default:
				b.WriteRune(rune(r.IntN(utf8.MaxRune + 1)))
			}
		}
		return b.String()
	}
	strs := func() []string {
		if r.IntN(3) == 0 {
			return nil
		}
		ss := make([]string, r.IntN(4))
		for i := range ss {
			ss[i] = str()
		}
		return ss
	}
	for range 3000 {
		sameCanonical(t, Entry{Kind: Kind(str()), Time: time.Unix(r.Int64N(1<<40), r.Int64N(1e9)), Verifier: str(), Client: str(),
			Patient: str(), CredentialTypes: strs(), ClaimNames: strs(), Scopes: strs(), Purpose: str(),
			Outcome: Outcome(str()), Reasons: strs(), Seq: r.Uint64N(maxExactInt + 1), Prev: str()})
	}
}

func TestCanonicalRefusesInexactSeq(t *testing.T) {
	if _, err := Canonical(Entry{Seq: maxExactInt + 1}); err == nil {
		t.Fatal("Canonical accepted a seq that JSON numbers do not hold exactly")
	}
}

// FuzzCanonical: for any strings, Canonical gives the oracle's bytes.
func FuzzCanonical(f *testing.F) {
	for _, s := range trickyStrings {
		f.Add(s, s, uint64(1))
	}
	f.Fuzz(func(t *testing.T, a, b string, seq uint64) {
		seq %= maxExactInt + 1
		tm := time.Unix(int64(seq), 0)
		sameCanonical(t, Entry{Kind: Kind(a), Time: tm, Verifier: b, Client: a, Patient: b,
			CredentialTypes: []string{a, b}, ClaimNames: []string{b}, Purpose: a, Outcome: Outcome(b), Reasons: []string{a}, Seq: seq, Prev: b})
		sameLedgerEntry(t, a, tm)
	})
}

// BenchmarkCanonical compares Canonical with the oracle (encoding/json
// and a JCS transform) on a typical verification entry, in the same run.
func BenchmarkCanonical(b *testing.B) {
	e := Entry{Kind: KindVerification, Time: time.Now(), Verifier: "did:medid:EiBsS4v0t3G0Yq9u3m7Hn8bX2cQ", Client: "vc-api",
		Patient: "Nq0lJr1s0h8vYyq2Pq7v3mW3mKf1b9jN2u1m4QF3qMw", CredentialTypes: []string{"PatientIdentityCredential"},
		ClaimNames: []string{"given_name", "family_name", "birthdate"}, Outcome: OutcomeVerified, Seq: 1234,
		Prev: "vL6yYh3pGZ9l0pX0e8b6Yc8f7sQ3dV1pRr5kQ0d2cNw"}
	for _, c := range []struct {
		name string
		f    func(Entry) ([]byte, error)
	}{{"direct", Canonical}, {"json+jcs", canonicalJCS}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.f(e); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
