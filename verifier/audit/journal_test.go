package audit_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medid/medid/did"
	"github.com/medid/medid/internal/kv"
	"github.com/medid/medid/verifier/audit"
)

// refusingStore refuses every write under audit/, as a full disk would.
type refusingStore struct{ kv.Store }

var errRefused = errors.New("the store refuses writes")

func (s refusingStore) PutAll(ctx context.Context, items []kv.Item) error {
	for _, it := range items {
		if strings.HasPrefix(it.Key, "audit/") {
			return errRefused
		}
	}
	return s.Store.PutAll(ctx, items)
}

func (s refusingStore) Put(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if strings.HasPrefix(key, "audit/") {
		return errRefused
	}
	return s.Store.Put(ctx, key, value, ttl)
}

// segments returns the journal's segment files.
func segments(t *testing.T, dir string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "journal-*.log"))
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// journalOnly logs n entries for alice through a service whose store
// refuses the access log's writes: the entries are answered from the
// journal alone. It closes that service and returns alice's pseudonym.
func journalOnly(t *testing.T, f *fixture, n int) string {
	t.Helper()
	ctx := context.Background()
	alice := mustDID(t, "did:example:alice")
	svc, err := audit.New(refusingStore{f.store}, f.ledger, f.options())
	if err != nil {
		t.Fatal(err)
	}
	for range n {
		if _, err := svc.Log(ctx, decision(alice, audit.OutcomeDeny)); err != nil {
			t.Fatalf("Log with the store refusing: %v (the journal holds the entry)", err)
		}
	}
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := svc.Close(cctx); err != nil {
		t.Fatal(err)
	}
	var keys []string
	if err := f.store.List(ctx, "audit/e/", func(k string, _ []byte) error { keys = append(keys, k); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(keys) != 0 {
		t.Fatalf("the refusing store holds %d entries", len(keys))
	}
	return svc.Pseudonym(alice)
}

// TestJournalReplaysAtStart: entries answered from the journal while the
// store refused them (as after a crash before they were stored) are in
// the log, in one chain, and committed to the ledger, once a service
// starts again over the same journal.
func TestJournalReplaysAtStart(t *testing.T) {
	f := newFixture(t, withJournal)
	if err := f.svc.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	p := journalOnly(t, f, 5)
	if len(segments(t, f.journal)) == 0 {
		t.Fatal("no journal segment left to replay")
	}
	svc, err := audit.New(f.store, f.ledger, f.options())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close(context.Background()) })
	all := waitOnLedger(t, svc, p, 5)
	if err := audit.VerifyChain(all); err != nil {
		t.Fatal(err)
	}
	if all[0].Entry.Seq != 5 {
		t.Fatalf("newest seq %d, want 5", all[0].Entry.Seq)
	}
	// The next entry continues the same chain.
	if _, err := svc.Record(context.Background(), decision(mustDID(t, "did:example:alice"), audit.OutcomePermit)); err != nil {
		t.Fatal(err)
	}
	all = allForPatient(t, svc, p)
	if len(all) != 6 || audit.VerifyChain(all) != nil {
		t.Fatalf("%d entries after one more; chain: %v", len(all), audit.VerifyChain(all))
	}
}

// TestJournalTornTail: a record cut short at the end of the newest
// segment (a crash during its write, never answered) is ignored; damage
// in an older segment stops New, which would otherwise lose entries.
func TestJournalTornTail(t *testing.T) {
	f := newFixture(t, withJournal)
	if err := f.svc.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	p := journalOnly(t, f, 3)
	segs := segments(t, f.journal)
	b, err := os.ReadFile(segs[len(segs)-1])
	if err != nil {
		t.Fatal(err)
	}
	end := len(bytes.TrimRight(b, "\x00"))
	torn := append([]byte{0, 0, 0, 40, 1, 2, 3, 4}, bytes.Repeat([]byte{7}, 20)...) // 40 bytes announced, 20 written
	copy(b[end:], torn)
	if err := os.WriteFile(segs[len(segs)-1], b, 0o600); err != nil {
		t.Fatal(err)
	}
	damaged := append([]byte(nil), b...)

	svc, err := audit.New(f.store, f.ledger, f.options())
	if err != nil {
		t.Fatalf("New with a torn tail: %v", err)
	}
	all := waitOnLedger(t, svc, p, 3)
	if err := audit.VerifyChain(all); err != nil {
		t.Fatal(err)
	}
	if err := svc.Close(context.Background()); err != nil {
		t.Fatal(err)
	}

	// The same damage in a segment that is not the newest.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "journal-00000000000000000001.log"), damaged, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "journal-00000000000000000100.log"), make([]byte, 64), 0o600); err != nil {
		t.Fatal(err)
	}
	opts := f.options()
	opts.Journal = dir
	if _, err := audit.New(f.store, f.ledger, opts); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Fatalf("New over a damaged older segment = %v, want an error", err)
	}
}

// TestJournalFailureRefusesEntries: when the journal cannot be written,
// Log and Record fail (the caller answers that the event was not logged)
// and keep failing; what was logged before stays readable.
func TestJournalFailureRefusesEntries(t *testing.T) {
	t.Cleanup(audit.SetSegmentSize(512))
	f := newFixture(t, withJournal)
	ctx := context.Background()
	alice := mustDID(t, "did:example:alice")
	// Nothing can take the next segments' names.
	for lsn := 2; lsn < 50; lsn++ {
		if err := os.Mkdir(filepath.Join(f.journal, fmt.Sprintf("journal-%020d.log", lsn)), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.svc.Log(ctx, decision(alice, audit.OutcomeDeny)); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Healthy(); err != nil {
		t.Fatalf("Healthy before the failure = %v", err)
	}
	// The first segment is full after one record: the next fails, and
	// every one after it.
	if _, err := f.svc.Log(ctx, decision(alice, audit.OutcomeDeny)); err == nil || !strings.Contains(err.Error(), "journal could not be written") {
		t.Fatalf("Log with the journal unwritable = %v", err)
	}
	if err := f.svc.Healthy(); err == nil || !strings.Contains(err.Error(), "journal could not be written") {
		t.Fatalf("Healthy after the failure = %v", err)
	}
	if _, err := f.svc.Record(ctx, decision(alice, audit.OutcomePermit)); err == nil {
		t.Fatal("Record succeeded after the journal failed")
	}
	if _, err := f.svc.Log(ctx, decision(mustDID(t, "did:example:bob"), audit.OutcomePermit)); err == nil {
		t.Fatal("Log succeeded after the journal failed")
	}
	all := allForPatient(t, f.svc, f.svc.Pseudonym(alice))
	if len(all) != 1 || audit.VerifyChain(all) != nil {
		t.Fatalf("entries logged before the failure: %d, chain %v", len(all), audit.VerifyChain(all))
	}
}

// TestJournalOverlappingSyncs: with a second sync started at once
// whenever one is in flight, and segments so small that they fill every
// few records (a new one waits for the old one's syncs), entries logged
// from many goroutines are all answered; replayed at the next start they
// are all there, each patient's in one unbroken chain, and on the ledger.
func TestJournalOverlappingSyncs(t *testing.T) {
	defer audit.SetHedgeAfter(0)()
	defer audit.SetSegmentSize(2048)()
	f := newFixture(t, withJournal)
	if err := f.svc.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	svc, err := audit.New(refusingStore{f.store}, f.ledger, f.options())
	if err != nil {
		t.Fatal(err)
	}
	patients := []did.DID{mustDID(t, "did:example:alice"), mustDID(t, "did:example:bob"), mustDID(t, "did:example:carol")}
	const writers, each = 24, 10
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				if _, err := svc.Log(ctx, decision(patients[(w+i)%len(patients)], audit.OutcomeDeny)); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Log: %v", err)
	}
	if n := len(segments(t, f.journal)); n < 10 {
		t.Fatalf("%d segments: the test wants many rotations", n)
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := svc.Close(cctx); err != nil {
		t.Fatal(err)
	}

	svc, err = audit.New(f.store, f.ledger, f.options())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close(context.Background()) })
	total := 0
	for _, p := range patients {
		all := allForPatient(t, svc, svc.Pseudonym(p))
		if err := audit.VerifyChain(all); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if len(all) == 0 || all[0].Entry.Seq != uint64(len(all)) {
			t.Fatalf("%s: %d entries, newest seq %v", p, len(all), all)
		}
		total += len(all)
	}
	if total != writers*each {
		t.Fatalf("%d entries replayed, want %d", total, writers*each)
	}
	waitOnLedger(t, svc, svc.Pseudonym(patients[0]), len(allForPatient(t, svc, svc.Pseudonym(patients[0]))))
}
