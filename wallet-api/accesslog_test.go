package walletapi_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medid/medid/did"
	"github.com/medid/medid/internal/kv/boltkv"
	"github.com/medid/medid/internal/ledger"
	"github.com/medid/medid/verifier/audit"
	walletapi "github.com/medid/medid/wallet-api"
)

// auditLog adapts *audit.Service to walletapi.AccessLog, as internal/app
// is to do: the filter and the entries are copied field for field.
type auditLog struct{ svc *audit.Service }

func (a auditLog) PatientSalt(d did.DID) []byte { return a.svc.PatientSalt(d) }

func (a auditLog) ListForPatient(ctx context.Context, pseudonym string, f walletapi.AccessLogFilter) (walletapi.AccessLogPage, error) {
	p, err := a.svc.ListForPatient(ctx, pseudonym, audit.Filter{Limit: f.Limit, Cursor: f.Cursor})
	if err != nil {
		return walletapi.AccessLogPage{}, err
	}
	out := walletapi.AccessLogPage{NextCursor: p.NextCursor, Entries: make([]walletapi.AccessLogged, 0, len(p.Entries))}
	for _, l := range p.Entries {
		e := l.Entry
		out.Entries = append(out.Entries, walletapi.AccessLogged{ID: l.ID, Commitment: l.Commitment, LeafIndex: l.LeafIndex,
			OnLedger: l.OnLedger, Pending: l.Pending, Salt: l.Salt, Entry: walletapi.AccessEntry{Kind: string(e.Kind), Time: e.Time,
				Verifier: e.Verifier, Client: e.Client, Patient: e.Patient, CredentialTypes: e.CredentialTypes,
				ClaimNames: e.ClaimNames, Scopes: e.Scopes, Purpose: e.Purpose, Outcome: string(e.Outcome),
				Reasons: e.Reasons, Seq: e.Seq, Prev: e.Prev}})
	}
	return out, nil
}

// frozenCheckpoint is the real ledger with its checkpoint held at one
// taken earlier: entries appended since are not covered by it.
type frozenCheckpoint struct {
	*ledger.Log
	cp ledger.Checkpoint
}

func (f frozenCheckpoint) Checkpoint(context.Context) (ledger.Checkpoint, error) { return f.cp, nil }

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// accessFixture is a real ledger in a temporary directory and a real
// access log over its own store.
type accessFixture struct {
	store  *boltkv.Store
	ledger *ledger.Log
	audit  *audit.Service
	clock  *testClock
}

func newAccessFixture(t *testing.T, origin string) *accessFixture {
	t.Helper()
	f := &accessFixture{clock: &testClock{t: time.Now().UTC().Add(-time.Hour).Truncate(time.Second)}}
	var err error
	f.store, err = boltkv.Open(filepath.Join(t.TempDir(), "audit.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.store.Close() })
	seed := sha256.Sum256([]byte(origin))
	f.ledger, err = ledger.Open(context.Background(), ledger.Config{Dir: filepath.Join(t.TempDir(), "ledger"),
		Signer: ed25519.NewKeyFromSeed(seed[:]), Origin: origin})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.ledger.Close(context.Background()) })
	f.audit, err = audit.New(f.store, f.ledger, audit.Options{Secret: bytes.Repeat([]byte{3}, 32), Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// record logs an access decision about patient, a second after the last.
func (f *accessFixture) record(t *testing.T, patient string, kind audit.Kind, outcome audit.Outcome, client string) audit.Recorded {
	t.Helper()
	f.clock.Advance(time.Second)
	r, err := f.audit.Record(context.Background(), audit.Entry{Kind: kind, Verifier: "did:medid:verifier", Client: client,
		PatientDID: mustParseDID(t, patient), CredentialTypes: []string{"HealthConsentCredential"},
		ClaimNames: []string{"scopes", "purposes"}, Scopes: []string{"patient/Observation.rs"}, Purpose: "TREAT",
		Outcome: outcome, Reasons: []string{"granted"}})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (f *accessFixture) awaitLedger(t *testing.T, idx uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := f.ledger.AwaitCheckpoint(ctx, idx); err != nil {
		t.Fatal(err)
	}
}

func mustParseDID(t *testing.T, s string) did.DID {
	t.Helper()
	d, err := did.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// holderDIDs returns the did:jwk and did:key of the account's first key.
func holderDIDs(t *testing.T, s *server, tok string) (string, string) {
	t.Helper()
	code, out := call(t, "GET", s.URL+"/wallet/keys", tok, nil)
	expect(t, "keys", code, out, 200)
	k := out["keys"].([]any)[0].(map[string]any)
	return k["did_jwk"].(string), k["did_key"].(string)
}

// accessPages walks the whole access log, limit entries a page.
func accessPages(t *testing.T, s *server, tok string, limit int) ([]map[string]any, []map[string]any) {
	t.Helper()
	var entries, pages []map[string]any
	cursor := ""
	for range 100 {
		q := url.Values{"limit": {jsonNum(limit)}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		code, out := call(t, "GET", s.URL+"/wallet/access-log?"+q.Encode(), tok, nil)
		expect(t, "access log", code, out, 200)
		pages = append(pages, out)
		es := out["entries"].([]any)
		if len(es) > limit {
			t.Fatalf("%d entries on a page of %d", len(es), limit)
		}
		for _, e := range es {
			entries = append(entries, e.(map[string]any))
		}
		cursor, _ = out["next_cursor"].(string)
		if cursor == "" {
			return entries, pages
		}
	}
	t.Fatal("the access log never ends")
	return nil, nil
}

func jsonNum(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestAccessLogShowsThePatientsEntriesVerified(t *testing.T) {
	f := newAccessFixture(t, "wallet.test/ledger")
	s := startServer(t, walletapi.Options{ConsentOptions: walletapi.ConsentOptions{
		AccessLog: auditLog{f.audit}, LedgerProofs: f.ledger, LedgerKey: f.ledger.VerifierKey()}})
	alice, bob := signUp(t, s, "alice"), signUp(t, s, "bob")
	aliceJWK, aliceKey := holderDIDs(t, s, alice)
	bobJWK, _ := holderDIDs(t, s, bob)

	// Entries about Alice under two of her DIDs, interleaved in time with
	// one about Bob.
	var last audit.Recorded
	want := map[string]string{} // id → Alice's DID it is about
	for i := range 5 {
		d, kind, outcome := aliceJWK, audit.KindAccessDecision, audit.OutcomePermit
		if i%2 == 1 {
			d, kind, outcome = aliceKey, audit.KindVerification, audit.OutcomeVerified
		}
		last = f.record(t, d, kind, outcome, "did:web:clinic.example")
		want[last.ID] = d
		if i == 2 {
			f.record(t, bobJWK, audit.KindAccessDecision, audit.OutcomeDeny, "did:web:other.example")
		}
	}
	f.awaitLedger(t, last.LeafIndex)

	for _, limit := range []int{1, 2, 5, 50} {
		entries, pages := accessPages(t, s, alice, limit)
		if len(entries) != 5 {
			t.Fatalf("limit %d: %d entries, want 5", limit, len(entries))
		}
		var prev time.Time
		for i, e := range entries {
			id := e["id"].(string)
			if want[id] == "" || e["did"] != want[id] {
				t.Fatalf("limit %d: entry %s about %v is not one of Alice's", limit, id, e["did"])
			}
			at, _ := time.Parse(time.RFC3339Nano, e["time"].(string))
			if i > 0 && !at.Before(prev) {
				t.Fatalf("limit %d: not newest first: %v then %v", limit, prev, at)
			}
			prev = at
			if e["verified"] != true || e["problem"] != nil {
				t.Fatalf("limit %d: entry %s not verified: %v", limit, id, e["problem"])
			}
			p := e["proof"].(map[string]any)
			if p["tree_size"] == nil || p["leaf_index"] == nil || len(e["salt"].(string)) == 0 || e["verifier"] != "did:medid:verifier" ||
				e["client"] != "did:web:clinic.example" || e["purpose"] != "TREAT" {
				t.Fatalf("entry: %v", e)
			}
		}
		for _, p := range pages {
			if p["all_verified"] != true || p["unverified"] != json.Number("0") || !strings.Contains(p["checkpoint"].(string), "wallet.test/ledger") {
				t.Fatalf("limit %d: page %v", limit, p)
			}
		}
	}
	// The proof checks out against the page's checkpoint independently.
	_, pages := accessPages(t, s, alice, 50)
	cp, err := ledger.VerifyCheckpoint([]byte(pages[0]["checkpoint"].(string)), f.ledger.VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	e0 := pages[0]["entries"].([]any)[0].(map[string]any)
	var proof struct {
		LeafIndex uint64   `json:"leaf_index"`
		Hashes    [][]byte `json:"hashes"`
	}
	b, _ := json.Marshal(e0["proof"])
	if err := json.Unmarshal(b, &proof); err != nil {
		t.Fatal(err)
	}
	at, _ := time.Parse(time.RFC3339Nano, e0["time"].(string))
	leaf, _ := audit.LedgerEntry(e0["commitment"].(string), at)
	if err := ledger.VerifyInclusion(leaf, proof.LeafIndex, proof.Hashes, cp); err != nil {
		t.Fatalf("the proof given does not verify: %v", err)
	}

	// Bob sees his one entry and none of Alice's, even with her cursor.
	entries, _ := accessPages(t, s, bob, 50)
	if len(entries) != 1 || entries[0]["did"] != bobJWK || entries[0]["outcome"] != "deny" {
		t.Fatalf("bob: %v", entries)
	}
	code, out := call(t, "GET", s.URL+"/wallet/access-log?limit=1", alice, nil)
	expect(t, "alice page", code, out, 200)
	code, out = call(t, "GET", s.URL+"/wallet/access-log?cursor="+url.QueryEscape(out["next_cursor"].(string)), bob, nil)
	expect(t, "bob with alice's cursor", code, out, 200)
	for _, e := range out["entries"].([]any) {
		if want[e.(map[string]any)["id"].(string)] != "" {
			t.Fatal("bob sees an entry of alice's through her cursor")
		}
	}

	// Entries logged after the first page do not shift the later pages.
	code, p1 := call(t, "GET", s.URL+"/wallet/access-log?limit=2", alice, nil)
	expect(t, "page 1", code, p1, 200)
	f.record(t, aliceJWK, audit.KindAccessDecision, audit.OutcomeDeny, "did:web:late.example")
	seen := map[string]bool{}
	for _, e := range p1["entries"].([]any) {
		seen[e.(map[string]any)["id"].(string)] = true
	}
	cursor := p1["next_cursor"].(string)
	for cursor != "" {
		code, p := call(t, "GET", s.URL+"/wallet/access-log?limit=2&cursor="+url.QueryEscape(cursor), alice, nil)
		expect(t, "next page", code, p, 200)
		for _, e := range p["entries"].([]any) {
			id := e.(map[string]any)["id"].(string)
			if seen[id] || want[id] == "" {
				t.Fatalf("page shows %s again or one logged after the first page", id)
			}
			seen[id] = true
		}
		cursor, _ = p["next_cursor"].(string)
	}
	if len(seen) != 5 {
		t.Fatalf("%d entries over the pages, want 5", len(seen))
	}

	// Bad parameters.
	for _, q := range []string{"limit=0", "limit=101", "limit=x", "cursor=not-a-cursor", "cursor=" + strings.Repeat("A", 100)} {
		code, out := call(t, "GET", s.URL+"/wallet/access-log?"+q, alice, nil)
		expect(t, q, code, out, 400)
	}
	code, _ = callRaw(t, "GET", s.URL+"/wallet/access-log", "", nil)
	if code != 401 {
		t.Fatalf("without a session: %d", code)
	}
}

func TestAccessLogFlagsTamperedEntries(t *testing.T) {
	f := newAccessFixture(t, "wallet.test/tamper")
	s := startServer(t, walletapi.Options{ConsentOptions: walletapi.ConsentOptions{
		AccessLog: auditLog{f.audit}, LedgerProofs: f.ledger, LedgerKey: f.ledger.VerifierKey()}})
	alice := signUp(t, s, "alice")
	aliceJWK, _ := holderDIDs(t, s, alice)
	var recs []audit.Recorded
	for range 4 {
		recs = append(recs, f.record(t, aliceJWK, audit.KindAccessDecision, audit.OutcomePermit, "did:web:clinic.example"))
	}
	f.awaitLedger(t, recs[3].LeafIndex)
	ctx := context.Background()
	edit := func(id string, change func(m map[string]any)) {
		t.Helper()
		raw, err := f.store.Get(ctx, "audit/e/"+id)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		change(m)
		raw, _ = json.Marshal(m)
		if err := f.store.Put(ctx, "audit/e/"+id, raw, 0); err != nil {
			t.Fatal(err)
		}
	}
	// Entry 1: the outcome is rewritten (deny → permit style edit).
	edit(recs[1].ID, func(m map[string]any) {
		e, _ := json.Marshal(m["entry"])
		e = bytes.Replace(e, []byte(`"outcome":"permit"`), []byte(`"outcome":"deny"`), 1)
		m["entry"] = json.RawMessage(e)
	})
	// Entry 2: its commitment and salt are recomputed after an edit, so it
	// matches itself, but the ledger holds the old commitment.
	edit(recs[2].ID, func(m map[string]any) {
		var e map[string]any
		b, _ := json.Marshal(m["entry"])
		_ = json.Unmarshal(b, &e)
		e["client"] = "did:web:someone-else.example"
		var entry audit.Entry
		t0, _ := time.Parse(time.RFC3339Nano, e["time"].(string))
		entry = audit.Entry{Kind: audit.Kind(e["kind"].(string)), Time: t0, Verifier: e["verifier"].(string),
			Client: e["client"].(string), Patient: e["patient"].(string), CredentialTypes: []string{"HealthConsentCredential"},
			ClaimNames: []string{"purposes", "scopes"}, Scopes: []string{"patient/Observation.rs"}, Purpose: "TREAT",
			Outcome: audit.OutcomePermit, Reasons: []string{"granted"}, Seq: uint64(e["seq"].(float64)), Prev: e["prev"].(string)}
		canon, _ := audit.Canonical(entry)
		salt := bytes.Repeat([]byte{1}, 32)
		c, _ := audit.VerifyEntry(entry, salt)
		m["entry"], m["salt"], m["commitment"] = json.RawMessage(canon), salt, c
	})
	entries, pages := accessPages(t, s, alice, 50)
	if len(entries) != 4 || pages[0]["all_verified"] != false || pages[0]["unverified"] != json.Number("3") {
		// Entry 3 (seq 4) names entry 2's old commitment as prev: its
		// link to the rewritten entry breaks too.
		t.Fatalf("page: all_verified %v, unverified %v, %d entries", pages[0]["all_verified"], pages[0]["unverified"], len(entries))
	}
	problems := map[string]string{}
	for _, e := range entries {
		p, _ := e["problem"].(string)
		problems[e["id"].(string)] = p
		if (p == "") != (e["verified"] == true) {
			t.Fatalf("entry %v: verified %v with problem %q", e["id"], e["verified"], p)
		}
	}
	if problems[recs[0].ID] != "" {
		t.Fatalf("untouched entry: %q", problems[recs[0].ID])
	}
	if !strings.Contains(problems[recs[1].ID], "commitment") {
		t.Fatalf("altered entry: %q", problems[recs[1].ID])
	}
	if !strings.Contains(problems[recs[2].ID], "ledger") {
		t.Fatalf("re-committed entry: %q", problems[recs[2].ID])
	}
	if !strings.Contains(problems[recs[3].ID], "chain") {
		t.Fatalf("entry after the re-committed one: %q", problems[recs[3].ID])
	}
}

func TestAccessLogUncheckedWithoutAVerifiedCheckpoint(t *testing.T) {
	f := newAccessFixture(t, "wallet.test/pending")
	other := newAccessFixture(t, "wallet.test/other")
	before, err := f.ledger.Checkpoint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// One wallet checks against a checkpoint that predates the entries,
	// another against the wrong ledger key.
	stale := startServer(t, walletapi.Options{ConsentOptions: walletapi.ConsentOptions{
		AccessLog: auditLog{f.audit}, LedgerProofs: frozenCheckpoint{f.ledger, before}, LedgerKey: f.ledger.VerifierKey()}})
	wrongKey := startServer(t, walletapi.Options{ConsentOptions: walletapi.ConsentOptions{
		AccessLog: auditLog{f.audit}, LedgerProofs: f.ledger, LedgerKey: other.ledger.VerifierKey()}})
	for _, c := range []struct {
		s    *server
		want string
	}{{stale, "not yet published a checkpoint"}, {wrongKey, "does not verify"}} {
		tok := signUp(t, c.s, "carol")
		d, _ := holderDIDs(t, c.s, tok)
		r := f.record(t, d, audit.KindLogin, audit.OutcomeVerified, "")
		f.awaitLedger(t, r.LeafIndex)
		entries, pages := accessPages(t, c.s, tok, 50)
		if len(entries) != 1 || entries[0]["verified"] != false || !strings.Contains(entries[0]["problem"].(string), c.want) ||
			pages[0]["all_verified"] != false {
			t.Fatalf("want %q: %v %v", c.want, entries, pages[0])
		}
	}
}

// TestAccessLogPendingEntry: an entry logged before its commitment reached
// the ledger (audit.Service.Log, here with the ledger down) is shown, not
// verified, with why: it is being committed.
func TestAccessLogPendingEntry(t *testing.T) {
	f := newAccessFixture(t, "wallet.test/pending-entry")
	s := startServer(t, walletapi.Options{ConsentOptions: walletapi.ConsentOptions{
		AccessLog: auditLog{f.audit}, LedgerProofs: f.ledger, LedgerKey: f.ledger.VerifierKey()}})
	tok := signUp(t, s, "dora")
	d, _ := holderDIDs(t, s, tok)
	if err := f.ledger.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.audit.Log(context.Background(), audit.Entry{Kind: audit.KindVerification, Verifier: "did:medid:verifier",
		PatientDID: mustParseDID(t, d), Outcome: audit.OutcomeVerified}); err != nil {
		t.Fatal(err)
	}
	entries, pages := accessPages(t, s, tok, 50)
	if len(entries) != 1 || entries[0]["verified"] != false || !strings.Contains(entries[0]["problem"].(string), "being appended") ||
		pages[0]["all_verified"] != false {
		t.Fatalf("pending entry: %v %v", entries, pages[0])
	}
}
