package audit_test

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/medid/medid/verifier/audit"
)

// waitOnLedger polls the patient's entries until none is pending and
// returns them.
func waitOnLedger(t *testing.T, svc *audit.Service, pseudonym string, n int) []audit.Logged {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		all := allForPatient(t, svc, pseudonym)
		done := len(all) == n
		for _, l := range all {
			done = done && l.OnLedger && !l.Pending
		}
		if done {
			return all
		}
		if time.Now().After(deadline) {
			t.Fatalf("entries not committed in time: %+v", all)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestLogCommitsInTheBackground: Log returns once the entry is stored,
// pending; its commitment then reaches the ledger at the stored index, and
// entries logged with Log and Record for one patient form one chain.
func TestLogCommitsInTheBackground(t *testing.T) {
	t.Run("store", func(t *testing.T) { testLogCommits(t, newFixture(t)) })
	t.Run("journal", func(t *testing.T) { testLogCommits(t, newFixture(t, withJournal)) })
}

func testLogCommits(t *testing.T, f *fixture) {
	ctx := context.Background()
	alice := mustDID(t, "did:example:alice")
	p := f.svc.Pseudonym(alice)

	r, err := f.svc.Log(ctx, decision(alice, audit.OutcomePermit))
	if err != nil {
		t.Fatal(err)
	}
	if r.ID == "" || r.Seq != 1 || r.Commitment == "" || r.LeafIndex != 0 {
		t.Fatalf("Log returned %+v", r)
	}
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			var err error
			if i%2 == 0 {
				_, err = f.svc.Log(ctx, decision(alice, audit.OutcomeDeny))
			} else {
				_, err = f.svc.Record(ctx, decision(alice, audit.OutcomePermit))
			}
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	all := waitOnLedger(t, f.svc, p, 21)
	if err := audit.VerifyChain(all); err != nil {
		t.Fatal(err)
	}
	for _, l := range all {
		want, err := audit.LedgerEntry(l.Commitment, l.Entry.Time)
		if err != nil {
			t.Fatal(err)
		}
		if got := leaf(t, f.ledger, l.LeafIndex); !bytes.Equal(got, want) {
			t.Fatalf("leaf %d = %s, want %s", l.LeafIndex, got, want)
		}
	}
	// No pending marker is left (the finisher dropped them with the leaf
	// indexes it stored).
	markers := 0
	if err := f.store.List(ctx, "audit/u/", func(string, []byte) error { markers++; return nil }); err != nil {
		t.Fatal(err)
	}
	if markers != 0 {
		t.Fatalf("%d pending markers left after every entry was committed", markers)
	}
	if n, err := f.svc.CommitPending(ctx); err != nil || n != 0 {
		t.Fatalf("CommitPending after all were committed: %d, %v", n, err)
	}
}

// TestLogLeftPendingIsCommittedAtStart: entries Log stored while the
// ledger refused them stay in the chain, pending, and a service started
// over the same store with a working ledger commits them.
func TestLogLeftPendingIsCommittedAtStart(t *testing.T) {
	t.Run("store", func(t *testing.T) { testLeftPending(t, newFixture(t)) })
	t.Run("journal", func(t *testing.T) { testLeftPending(t, newFixture(t, withJournal)) })
}

func testLeftPending(t *testing.T, f *fixture) {
	ctx := context.Background()
	bob := mustDID(t, "did:example:bob")
	if _, err := f.svc.Record(ctx, decision(bob, audit.OutcomePermit)); err != nil {
		t.Fatal(err)
	}
	if err := f.ledger.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := f.svc.Log(ctx, decision(bob, audit.OutcomeDeny)); err != nil {
			t.Fatalf("Log with the ledger down: %v (the entry is stored; only its commitment waits)", err)
		}
	}
	p := f.svc.Pseudonym(bob)
	all := allForPatient(t, f.svc, p)
	if len(all) != 4 {
		t.Fatalf("%d entries, want 4", len(all))
	}
	for _, l := range all[:3] {
		if l.OnLedger || !l.Pending {
			t.Fatalf("entry %d: on ledger %v, pending %v; want pending", l.Entry.Seq, l.OnLedger, l.Pending)
		}
	}
	if err := audit.VerifyChain(all); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := f.svc.Close(cctx); err != nil {
		t.Fatal(err)
	}

	l := openLedger(t, f.dir)
	t.Cleanup(func() { l.Close(context.Background()) })
	svc, err := audit.New(f.store, l, f.options())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close(context.Background()) })
	all = waitOnLedger(t, svc, p, 4)
	if err := audit.VerifyChain(all); err != nil {
		t.Fatal(err)
	}
	seen := map[uint64]bool{}
	for _, e := range all {
		want, _ := audit.LedgerEntry(e.Commitment, e.Entry.Time)
		if got := leaf(t, l, e.LeafIndex); !bytes.Equal(got, want) || seen[e.LeafIndex] {
			t.Fatalf("entry %d: leaf %d holds %s", e.Entry.Seq, e.LeafIndex, got)
		}
		seen[e.LeafIndex] = true
	}
}

// TestLogRefusesBadEntries: Log validates like Record and stores nothing.
func TestLogRefusesBadEntries(t *testing.T) {
	f := newFixture(t)
	e := decision(mustDID(t, "did:example:carol"), audit.OutcomePermit)
	e.Outcome = "maybe"
	if _, err := f.svc.Log(context.Background(), e); err == nil {
		t.Fatal("Log accepted an invalid outcome")
	}
	p, err := f.svc.List(context.Background(), audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Entries) != 0 {
		t.Fatalf("%d entries after a refused Log", len(p.Entries))
	}
}
