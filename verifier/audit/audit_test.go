package audit_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medid/medid/did"
	"github.com/medid/medid/internal/kv"
	"github.com/medid/medid/internal/kv/boltkv"
	"github.com/medid/medid/internal/ledger"
	"github.com/medid/medid/verifier/audit"
)

const origin = "verifier.example/ledger"

// clock is an injectable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type fixture struct {
	store  *boltkv.Store
	ledger *ledger.Log
	dir    string
	clock  *clock
	svc    *audit.Service
	// journal is the service's journal directory, "" for none.
	journal string
}

// options are the service's options, for a service started again.
func (f *fixture) options() audit.Options {
	return audit.Options{Secret: bytes.Repeat([]byte{9}, 32), Now: f.clock.Now, Journal: f.journal}
}

// withJournal has newFixture give the service a journal.
func withJournal(f *fixture) { f.journal = filepath.Join(filepath.Dir(f.dir), "journal") }

func openLedger(t testing.TB, dir string) *ledger.Log {
	t.Helper()
	seed := sha256.Sum256([]byte("audit test ledger key"))
	l, err := ledger.Open(context.Background(), ledger.Config{Dir: dir, Signer: ed25519.NewKeyFromSeed(seed[:]), Origin: origin})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func newFixture(t testing.TB, opts ...func(*fixture)) *fixture {
	t.Helper()
	f := &fixture{dir: filepath.Join(t.TempDir(), "ledger"), clock: &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}}
	for _, o := range opts {
		o(f)
	}
	var err error
	f.store, err = boltkv.Open(filepath.Join(t.TempDir(), "kv.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.store.Close() })
	f.ledger = openLedger(t, f.dir)
	t.Cleanup(func() { f.ledger.Close(context.Background()) })
	f.svc, err = audit.New(f.store, f.ledger, f.options())
	if err != nil {
		t.Fatal(err)
	}
	svc := f.svc
	t.Cleanup(func() { svc.Close(context.Background()) }) // before the ledger and store close
	return f
}

func mustDID(t testing.TB, s string) did.DID {
	t.Helper()
	d, err := did.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func decision(patient did.DID, outcome audit.Outcome) audit.Entry {
	return audit.Entry{Kind: audit.KindAccessDecision, Verifier: "did:medid:verifier", Client: "did:web:clinic.example",
		PatientDID: patient, CredentialTypes: []string{"HealthConsentCredential"},
		ClaimNames: []string{"scopes", "patient", "grantee"}, Scopes: []string{"patient/Observation.rs"},
		Purpose: "TREAT", Outcome: outcome, Reasons: []string{"scope_granted"}}
}

// leaf reads the ledger entry at idx.
func leaf(t *testing.T, l *ledger.Log, idx uint64) []byte {
	t.Helper()
	for e, err := range l.Entries(context.Background(), idx, idx+1) {
		if err != nil {
			t.Fatal(err)
		}
		return e.Data
	}
	t.Fatalf("no ledger entry at %d", idx)
	return nil
}

func allForPatient(t *testing.T, svc *audit.Service, pseudonym string) []audit.Logged {
	t.Helper()
	var out []audit.Logged
	f := audit.Filter{Limit: 3}
	for {
		p, err := svc.ListForPatient(context.Background(), pseudonym, f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p.Entries...)
		if p.NextCursor == "" {
			return out
		}
		f.Cursor = p.NextCursor
	}
}

// TestRecordCommitsToTheLedger checks that every recorded entry's
// commitment is the leaf at its stored index, that the patient can
// recompute it from the entry and salt, and prove its inclusion against a
// signed checkpoint, and that nothing personal reaches the ledger.
func TestRecordCommitsToTheLedger(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	alice, bob := mustDID(t, "did:example:alice"), mustDID(t, "did:example:bob")

	// Something else on the same ledger first, as in production.
	if _, err := f.ledger.Append(ctx, []byte(`{"type":"did-medid/op","v":1}`)); err != nil {
		t.Fatal(err)
	}
	var recs []audit.Recorded
	for i, p := range []did.DID{alice, bob, alice, {}} {
		e := decision(p, audit.OutcomePermit)
		if i == 3 {
			e.Kind, e.Outcome, e.Reasons = audit.KindVerification, audit.OutcomeFailed, []string{"signature"}
		}
		r, err := f.svc.Record(ctx, e)
		if err != nil {
			t.Fatalf("Record %d: %v", i, err)
		}
		recs = append(recs, r)
		f.clock.Advance(time.Second)
	}
	if recs[0].Patient != f.svc.Pseudonym(alice) || recs[1].Patient != f.svc.Pseudonym(bob) || recs[3].Patient != "" {
		t.Fatalf("pseudonyms: %+v", recs)
	}
	if recs[0].Seq != 1 || recs[2].Seq != 2 || recs[1].Seq != 1 || recs[3].Seq != 0 {
		t.Fatalf("sequence numbers: %d %d %d %d", recs[0].Seq, recs[1].Seq, recs[2].Seq, recs[3].Seq)
	}
	for _, r := range recs {
		data := leaf(t, f.ledger, r.LeafIndex)
		c, at, ok, err := audit.ParseLedgerEntry(data)
		if err != nil || !ok || c != r.Commitment || at.IsZero() {
			t.Fatalf("leaf %d = %s: %v %v", r.LeafIndex, data, ok, err)
		}
		for _, secret := range []string{"alice", "bob", "did:example", "TREAT", "Observation", "clinic"} {
			if bytes.Contains(data, []byte(secret)) {
				t.Fatalf("ledger entry %s contains %q", data, secret)
			}
		}
	}

	// Alice, with her salt, finds her entries and proves each was logged.
	salt := f.svc.PatientSalt(alice)
	pseudonym := audit.PseudonymFrom(salt, alice)
	if pseudonym != recs[0].Patient {
		t.Fatalf("the wallet computes pseudonym %q, the log uses %q", pseudonym, recs[0].Patient)
	}
	mine := allForPatient(t, f.svc, pseudonym)
	if len(mine) != 2 || mine[0].Entry.Seq != 2 || mine[1].Entry.Seq != 1 {
		t.Fatalf("alice's entries: %+v", mine)
	}
	for _, l := range mine {
		if !l.OnLedger || len(l.Salt) != audit.SaltSize {
			t.Fatalf("entry %s: on ledger %v, salt %d bytes", l.ID, l.OnLedger, len(l.Salt))
		}
		c, err := audit.VerifyEntry(l.Entry, l.Salt)
		if err != nil || c != l.Commitment {
			t.Fatalf("VerifyEntry = %q, %v; stored %q", c, err, l.Commitment)
		}
		want, err := audit.LedgerEntry(c, l.Entry.Time)
		if err != nil {
			t.Fatal(err)
		}
		if got := leaf(t, f.ledger, l.LeafIndex); !bytes.Equal(got, want) {
			t.Fatalf("leaf %d = %s, want %s", l.LeafIndex, got, want)
		}
		cp, err := f.ledger.AwaitCheckpoint(ctx, l.LeafIndex)
		if err != nil {
			t.Fatal(err)
		}
		proof, err := f.ledger.InclusionProof(ctx, l.LeafIndex, cp.Size)
		if err != nil {
			t.Fatal(err)
		}
		verified, err := ledger.VerifyCheckpoint(cp.Raw, f.ledger.VerifierKey())
		if err != nil {
			t.Fatal(err)
		}
		if err := ledger.VerifyInclusion(want, l.LeafIndex, proof, verified); err != nil {
			t.Fatalf("inclusion of entry %d: %v", l.Entry.Seq, err)
		}
		// A tampered entry does not match the leaf.
		l.Entry.Outcome = audit.OutcomeDeny
		if c2, _ := audit.VerifyEntry(l.Entry, l.Salt); c2 == l.Commitment {
			t.Fatal("changing the outcome kept the commitment")
		}
	}
	if err := audit.VerifyChain(mine); err != nil {
		t.Fatal(err)
	}

	// The store holds no DID of a patient.
	err := f.store.List(ctx, "audit/", func(k string, v []byte) error {
		if bytes.Contains(v, []byte("did:example")) || bytes.Contains([]byte(k), []byte("did:example")) {
			return fmt.Errorf("%s holds a patient DID", k)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestChainDetectsRemovedEntries removes, and then alters, stored entries
// and checks that the patient's chain check finds it.
func TestChainDetectsRemovedEntries(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	alice := mustDID(t, "did:example:alice")
	var ids []string
	for i := range 5 {
		r, err := f.svc.Record(ctx, decision(alice, audit.OutcomePermit))
		if err != nil {
			t.Fatal(err)
		}
		if r.Seq != uint64(i+1) {
			t.Fatalf("seq %d, want %d", r.Seq, i+1)
		}
		ids = append(ids, r.ID)
		f.clock.Advance(time.Minute)
	}
	p := f.svc.Pseudonym(alice)
	all := allForPatient(t, f.svc, p)
	if err := audit.VerifyChain(all); err != nil {
		t.Fatalf("intact chain: %v", err)
	}

	// Removing the third entry (the operator deletes it from the store).
	saved, err := f.store.Get(ctx, "audit/e/"+ids[2])
	if err != nil {
		t.Fatal(err)
	}
	if err := f.store.Delete(ctx, "audit/e/"+ids[2]); err != nil {
		t.Fatal(err)
	}
	after := allForPatient(t, f.svc, p)
	if len(after) != 4 {
		t.Fatalf("%d entries after the removal", len(after))
	}
	err = audit.VerifyChain(after)
	var ce *audit.ChainError
	if !errors.As(err, &ce) || !errors.Is(err, audit.ErrChainBroken) || ce.Seq != 3 {
		t.Fatalf("VerifyChain after removing entry 3 = %v", err)
	}

	// Removing it and renumbering the rest breaks the prev links instead.
	renumbered := make([]audit.Logged, 0, 4)
	for _, l := range after {
		if l.Entry.Seq > 3 {
			l.Entry.Seq--
		}
		renumbered = append(renumbered, l)
	}
	if err := audit.VerifyChain(renumbered); !errors.Is(err, audit.ErrChainBroken) {
		t.Fatalf("VerifyChain of a renumbered chain = %v", err)
	}

	// Removing the first entry is caught too.
	if err := audit.VerifyChain(all[:4]); err == nil || !errors.As(err, &ce) || ce.Seq != 1 {
		t.Fatalf("VerifyChain without entry 1 = %v", err)
	}

	// Altering a stored entry (purpose rewritten) is caught.
	if err := f.store.Put(ctx, "audit/e/"+ids[2], bytes.Replace(saved, []byte("TREAT"), []byte("HRESCH"), 1), 0); err != nil {
		t.Fatal(err)
	}
	err = audit.VerifyChain(allForPatient(t, f.svc, p))
	if !errors.As(err, &ce) || ce.Seq != 3 || ce.Reason != "the entry does not match its commitment" {
		t.Fatalf("VerifyChain after altering entry 3 = %v", err)
	}
}

// TestConcurrentRecordsKeepOneChain records for one patient from many
// goroutines: the chain must not fork.
func TestConcurrentRecordsKeepOneChain(t *testing.T) {
	t.Run("store", func(t *testing.T) { testConcurrentRecords(t, newFixture(t)) })
	t.Run("journal", func(t *testing.T) { testConcurrentRecords(t, newFixture(t, withJournal)) })
}

func testConcurrentRecords(t *testing.T, f *fixture) {
	alice := mustDID(t, "did:example:alice")
	const n = 24
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			if _, err := f.svc.Record(context.Background(), decision(alice, audit.OutcomeDeny)); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	all := allForPatient(t, f.svc, f.svc.Pseudonym(alice))
	if len(all) != n {
		t.Fatalf("%d entries, want %d", len(all), n)
	}
	if err := audit.VerifyChain(all); err != nil {
		t.Fatal(err)
	}
}

// TestLedgerFailure: when the ledger refuses the commitment, Record fails
// and leaves no entry behind, and the chain continues cleanly afterwards.
func TestLedgerFailure(t *testing.T) {
	t.Run("store", func(t *testing.T) { testLedgerFailure(t, newFixture(t)) })
	t.Run("journal", func(t *testing.T) { testLedgerFailure(t, newFixture(t, withJournal)) })
}

func testLedgerFailure(t *testing.T, f *fixture) {
	ctx := context.Background()
	alice := mustDID(t, "did:example:alice")
	if _, err := f.svc.Record(ctx, decision(alice, audit.OutcomePermit)); err != nil {
		t.Fatal(err)
	}
	if err := f.ledger.Close(ctx); err != nil {
		t.Fatal(err)
	}
	_, err := f.svc.Record(ctx, decision(alice, audit.OutcomeDeny))
	if !errors.Is(err, audit.ErrNotCommitted) || !errors.Is(err, ledger.ErrClosed) {
		t.Fatalf("Record on a closed ledger = %v", err)
	}
	p := f.svc.Pseudonym(alice)
	if got := allForPatient(t, f.svc, p); len(got) != 1 {
		t.Fatalf("%d entries after a failed record, want 1", len(got))
	}
	// A patient's first entry failing leaves an empty chain too.
	bob := mustDID(t, "did:example:bob")
	if _, err := f.svc.Record(ctx, decision(bob, audit.OutcomeDeny)); !errors.Is(err, audit.ErrNotCommitted) {
		t.Fatalf("Record = %v", err)
	}

	if err := f.svc.Close(ctx); err != nil {
		t.Fatal(err)
	}
	f.ledger = openLedger(t, f.dir)
	t.Cleanup(func() { f.ledger.Close(context.Background()) })
	svc, err := audit.New(f.store, f.ledger, f.options())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close(context.Background()) })
	for _, who := range []did.DID{alice, bob} {
		if _, err := svc.Record(ctx, decision(who, audit.OutcomePermit)); err != nil {
			t.Fatal(err)
		}
	}
	all := allForPatient(t, svc, p)
	if len(all) != 2 || all[0].Entry.Seq != 2 {
		t.Fatalf("alice's entries after recovery: %d, newest seq %d", len(all), all[0].Entry.Seq)
	}
	if err := audit.VerifyChain(all); err != nil {
		t.Fatal(err)
	}
	bobs := allForPatient(t, svc, svc.Pseudonym(bob))
	if len(bobs) != 1 || bobs[0].Entry.Seq != 1 || audit.VerifyChain(bobs) != nil {
		t.Fatalf("bob's entries after recovery: %+v", bobs)
	}
}

func TestRecordRefusesBadEntries(t *testing.T) {
	f := newFixture(t)
	alice := mustDID(t, "did:example:alice")
	for name, mod := range map[string]func(*audit.Entry){
		"kind":             func(e *audit.Entry) { e.Kind = "read" },
		"outcome":          func(e *audit.Entry) { e.Outcome = "maybe" },
		"no verifier":      func(e *audit.Entry) { e.Verifier = "" },
		"pseudonym given":  func(e *audit.Entry) { e.Patient = "x" },
		"claim value":      func(e *audit.Entry) { e.ClaimNames = []string{"given_name=Ada Lovelace"} },
		"empty claim name": func(e *audit.Entry) { e.ClaimNames = []string{""} },
		"control char":     func(e *audit.Entry) { e.Purpose = "TREAT\n" },
		"long":             func(e *audit.Entry) { e.Client = string(bytes.Repeat([]byte{'a'}, 300)) },
		"too many scopes":  func(e *audit.Entry) { e.Scopes = make([]string, 65) },
		"time":             func(e *audit.Entry) { e.Time = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC) },
	} {
		e := decision(alice, audit.OutcomePermit)
		mod(&e)
		if _, err := f.svc.Record(context.Background(), e); !errors.Is(err, audit.ErrInvalidEntry) {
			t.Errorf("%s: Record = %v, want ErrInvalidEntry", name, err)
		}
	}
	p, err := f.svc.List(context.Background(), audit.Filter{})
	if err != nil || len(p.Entries) != 0 {
		t.Fatalf("List after refused records: %d entries, %v", len(p.Entries), err)
	}
}

func TestListFiltersAndPages(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	alice, bob := mustDID(t, "did:example:alice"), mustDID(t, "did:example:bob")
	start := f.clock.Now()
	outcomes := []audit.Outcome{audit.OutcomePermit, audit.OutcomeDeny, audit.OutcomeVerified, audit.OutcomeFailed}
	const n = 13
	for i := range n {
		who := alice
		if i%3 == 0 {
			who = bob
		}
		e := decision(who, outcomes[i%4])
		if _, err := f.svc.Record(ctx, e); err != nil {
			t.Fatal(err)
		}
		f.clock.Advance(7 * time.Hour) // across several days
	}
	// Every entry, newest first, in pages of 4.
	var all []audit.Logged
	fl := audit.Filter{Limit: 4}
	for {
		p, err := f.svc.List(ctx, fl)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Entries) > 4 {
			t.Fatalf("page of %d", len(p.Entries))
		}
		for _, l := range p.Entries {
			if l.Salt != nil {
				t.Fatal("the operator's listing shows salts")
			}
		}
		all = append(all, p.Entries...)
		if p.NextCursor == "" {
			break
		}
		fl.Cursor = p.NextCursor
	}
	if len(all) != n {
		t.Fatalf("%d entries listed, want %d", len(all), n)
	}
	for i := 1; i < n; i++ {
		if !all[i].Entry.Time.Before(all[i-1].Entry.Time) {
			t.Fatalf("entry %d (%s) is not older than entry %d (%s)", i, all[i].Entry.Time, i-1, all[i-1].Entry.Time)
		}
	}

	count := func(fl audit.Filter) int {
		t.Helper()
		p, err := f.svc.List(ctx, fl)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range p.Entries {
			if fl.Outcome != "" && l.Entry.Outcome != fl.Outcome {
				t.Fatalf("outcome filter %s let %s through", fl.Outcome, l.Entry.Outcome)
			}
		}
		return len(p.Entries)
	}
	if got := count(audit.Filter{Outcome: audit.OutcomeDeny}); got != 3 { // i = 1, 5, 9
		t.Errorf("deny entries: %d, want 3", got)
	}
	from, to := start.Add(14*time.Hour), start.Add(42*time.Hour) // entries 2..5
	if got := count(audit.Filter{From: from, To: to}); got != 4 {
		t.Errorf("entries in [from, to): %d, want 4", got)
	}
	if got := count(audit.Filter{From: from, To: to, Outcome: audit.OutcomePermit}); got != 1 { // i = 4
		t.Errorf("permit entries in [from, to): %d, want 1", got)
	}
	if got := count(audit.Filter{Patient: f.svc.Pseudonym(bob)}); got != 5 { // i = 0, 3, 6, 9, 12
		t.Errorf("bob's entries: %d, want 5", got)
	}
	if _, err := f.svc.List(ctx, audit.Filter{Cursor: "bm90IGEgY3Vyc29y"}); !errors.Is(err, audit.ErrInvalidFilter) {
		t.Errorf("List with a forged cursor = %v", err)
	}
	if _, err := f.svc.ListForPatient(ctx, "did:example:alice", audit.Filter{}); !errors.Is(err, audit.ErrInvalidFilter) {
		t.Errorf("ListForPatient by DID = %v", err)
	}
	if _, err := f.svc.ListForPatient(ctx, f.svc.Pseudonym(alice), audit.Filter{Cursor: "!!"}); !errors.Is(err, audit.ErrInvalidFilter) {
		t.Errorf("ListForPatient with a bad cursor = %v", err)
	}
}

func TestNewChecksOptions(t *testing.T) {
	f := newFixture(t)
	if _, err := audit.New(f.store, f.ledger, audit.Options{Secret: []byte("short")}); err == nil {
		t.Error("a short secret was accepted")
	}
	if _, err := audit.New(nil, f.ledger, audit.Options{Secret: make([]byte, 32)}); err == nil {
		t.Error("a nil store was accepted")
	}
	var store kv.Store = f.store
	if _, err := audit.New(store, nil, audit.Options{Secret: make([]byte, 32)}); err == nil {
		t.Error("a nil ledger was accepted")
	}
}

func TestPseudonyms(t *testing.T) {
	f := newFixture(t)
	alice, bob := mustDID(t, "did:example:alice"), mustDID(t, "did:example:bob")
	if f.svc.Pseudonym(alice) == f.svc.Pseudonym(bob) {
		t.Fatal("two patients share a pseudonym")
	}
	if bytes.Equal(f.svc.PatientSalt(alice), f.svc.PatientSalt(bob)) {
		t.Fatal("two patients share a salt")
	}
	other, err := audit.New(f.store, f.ledger, audit.Options{Secret: bytes.Repeat([]byte{8}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	if other.Pseudonym(alice) == f.svc.Pseudonym(alice) {
		t.Fatal("the pseudonym does not depend on the server secret")
	}
	// The canonical form is stable and has sorted keys.
	c, err := audit.Canonical(audit.Entry{Kind: audit.KindLogin, Time: time.Unix(0, 0), Verifier: "v", Outcome: audit.OutcomeVerified})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"kind":"login","outcome":"verified","time":"1970-01-01T00:00:00Z","v":1,"verifier":"v"}`; string(c) != want {
		t.Fatalf("Canonical = %s, want %s", c, want)
	}
	var m map[string]any
	if err := json.Unmarshal(c, &m); err != nil {
		t.Fatal(err)
	}
}

// TestNames: Names keeps what an entry can hold, and Record accepts it.
func TestNames(t *testing.T) {
	many := make([]string, 100)
	for i := range many {
		many[i] = fmt.Sprintf("claim_%03d", i)
	}
	for name, tc := range map[string]struct{ in, want []string }{
		"kept, sorted, once": {[]string{"b", "a", "b"}, []string{"a", "b"}},
		"odd names dropped":  {[]string{"given name", "", "ok", "tab\there", "\u0000", strings.Repeat("x", 300)}, []string{"ok"}},
		"none left":          {[]string{" "}, nil},
		"capped":             {many, many[:64]},
	} {
		got := audit.Names(tc.in)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: Names = %q, want %q", name, got, tc.want)
		}
	}
	f := newFixture(t)
	e := decision(mustDID(t, "did:example:names"), audit.OutcomePermit)
	e.ClaimNames = append(many, "given name")
	if _, err := f.svc.Record(context.Background(), e); err == nil {
		t.Fatal("Record accepted names it cannot hold")
	}
	e.ClaimNames = audit.Names(e.ClaimNames)
	if _, err := f.svc.Record(context.Background(), e); err != nil {
		t.Fatalf("Record refused what Names kept: %v", err)
	}
}
