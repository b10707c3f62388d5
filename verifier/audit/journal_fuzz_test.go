package audit

import (
	"bytes"
	"testing"

	"github.com/medid/medid/internal/kv"
)

// FuzzJournalRecords: whatever a segment holds, decoding never panics,
// and the records it accepts encode back to the bytes they came from.
func FuzzJournalRecords(f *testing.F) {
	var seed []byte
	seed = appendRecord(seed, &jrec{lsn: 1, items: []kv.Item{{Key: "audit/e/x", Value: []byte(`{"id":"x"}`)}, {Key: "audit/u/x", Delete: true}}})
	seed = appendRecord(seed, &jrec{lsn: 2, items: []kv.Item{{Key: "audit/h/p", Value: []byte("{}"), TTL: 5}}})
	f.Add(seed)
	f.Add(append(bytes.Clone(seed), 0, 0, 0, 9, 1, 2, 3, 4, 5))
	f.Add(seed[:len(seed)-3])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, end, _ := decodeRecords(b)
		if end > len(b) {
			t.Fatalf("stopped at %d of %d bytes", end, len(b))
		}
		var again []byte
		for _, r := range recs {
			again = appendRecord(again, r)
		}
		if !bytes.Equal(again, b[:end]) {
			t.Fatalf("records re-encode to %x, want %x", again, b[:end])
		}
	})
}
