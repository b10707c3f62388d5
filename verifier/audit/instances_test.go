package audit_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"testing"

	"github.com/medid/medid/internal/kv"
	"github.com/medid/medid/internal/kv/kvtest"
	"github.com/medid/medid/internal/kv/rediskv"
	"github.com/medid/medid/verifier/audit"
)

// Two instances sharing a store (and a ledger) record for one patient at
// once: compare-and-swap keeps a single chain.
func testInstancesShareOneChain(t *testing.T, store kv.Store) {
	f := newFixture(t)
	alice := mustDID(t, "did:example:alice")
	var svcs []*audit.Service
	for range 2 {
		s, err := audit.New(store, f.ledger, audit.Options{Secret: bytes.Repeat([]byte{9}, 32), Now: f.clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		svcs = append(svcs, s)
	}
	const each = 12
	var wg sync.WaitGroup
	errs := make(chan error, 2*each)
	for _, s := range svcs {
		for range each {
			wg.Go(func() {
				if _, err := s.Record(context.Background(), decision(alice, audit.OutcomePermit)); err != nil {
					errs <- err
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	all := allForPatient(t, svcs[1], svcs[0].Pseudonym(alice))
	if len(all) != 2*each {
		t.Fatalf("%d entries, want %d", len(all), 2*each)
	}
	if err := audit.VerifyChain(all); err != nil {
		t.Fatal(err)
	}
	for _, l := range all {
		c, _, ok, err := audit.ParseLedgerEntry(leaf(t, f.ledger, l.LeafIndex))
		if !ok || err != nil || c != l.Commitment {
			t.Fatalf("entry %d: leaf %d does not hold its commitment", l.Entry.Seq, l.LeafIndex)
		}
	}
}

func TestInstancesShareOneChain(t *testing.T) {
	t.Run("bbolt", func(t *testing.T) {
		testInstancesShareOneChain(t, newFixture(t).store)
	})
	t.Run("redis", func(t *testing.T) {
		var r [6]byte
		_, _ = rand.Read(r[:])
		store, err := rediskv.Open(kvtest.RedisURL(t), "medid-audit-test:"+hex.EncodeToString(r[:])+":")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { store.Close() })
		testInstancesShareOneChain(t, store)
	})
}
