package audit_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/medid/medid/verifier/audit"
)

// BenchmarkRecord records access-log entries from 32 concurrent callers
// into a synced bbolt store and a real Tessera ledger: all for one patient
// (the worst case: one chain), or each caller for its own patient; with
// Record (waits for the ledger) or Log (waits for the store; the ledger
// append follows in the background, and the benchmark waits for all of
// them before it stops the clock).
func BenchmarkRecord(b *testing.B) {
	for _, tc := range []struct {
		name     string
		patients int
		log      bool
	}{{"Record/one-patient", 1, false}, {"Record/many-patients", 32, false},
		{"Log/one-patient", 1, true}, {"Log/many-patients", 32, true}} {
		b.Run(tc.name, func(b *testing.B) {
			f := newFixture(b)
			var next atomic.Int64
			b.SetParallelism(16) // 32 goroutines on 2 cores
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				p := mustDID(b, fmt.Sprintf("did:example:patient%d", next.Add(1)%int64(tc.patients)))
				for pb.Next() {
					record := f.svc.Record
					if tc.log {
						record = f.svc.Log
					}
					if _, err := record(context.Background(), decision(p, audit.OutcomePermit)); err != nil {
						b.Error(err)
						return
					}
				}
			})
			if err := f.svc.Close(context.Background()); err != nil {
				b.Fatal(err)
			}
		})
	}
}
