package issuer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medid/medid/credentials/status/bitstring"
	"github.com/medid/medid/internal/kv"
	"github.com/medid/medid/internal/kv/boltkv"
	"github.com/medid/medid/internal/kv/kvtest"
	"github.com/medid/medid/internal/kv/rediskv"
)

// recordReads counts the issuance records read from a real store, by Get
// and by List.
type recordReads struct {
	kv.Store
	n atomic.Int64
}

func (r *recordReads) Get(ctx context.Context, key string) ([]byte, error) {
	if strings.HasPrefix(key, recordPrefix) {
		r.n.Add(1)
	}
	return r.Store.Get(ctx, key)
}

func (r *recordReads) List(ctx context.Context, prefix string, fn func(string, []byte) error) error {
	return r.Store.List(ctx, prefix, func(k string, v []byte) error {
		if strings.HasPrefix(k, recordPrefix) {
			r.n.Add(1)
		}
		return fn(k, v)
	})
}

func (r *recordReads) take() int64 { return r.n.Swap(0) }

func TestRecordsByPositionBolt(t *testing.T) {
	store, err := boltkv.Open(filepath.Join(t.TempDir(), "kv.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	testRecordsByPosition(t, store)
}

func TestRecordsByPositionRedis(t *testing.T) {
	store, err := rediskv.Open(kvtest.RedisURL(t), "medid-issuer-test:"+randomToken(6)+":")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	testRecordsByPosition(t, store)
}

// testRecordsByPosition: Records at an index reads only the records at
// that index once the store is indexed, finds records stored before the
// index existed (by reading them all until IndexRecords has run), and a
// refused duplicate leaves no index entry behind.
func testRecordsByPosition(t *testing.T, store kv.Store) {
	ctx := context.Background()
	const (
		tokenA = "https://issuer.example/status/token/a"
		tokenC = "https://issuer.example/status/token/c"
		bitB   = "https://issuer.example/status/bitstring/b"
	)
	clock := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	tick := func() time.Time { clock = clock.Add(time.Second); return clock }
	reads := &recordReads{Store: store}
	st := &Status{Store: reads, ListURL: "https://issuer.example/status/token/",
		BitstringURL: "https://issuer.example/status/bitstring/", Now: tick}

	// Records as the issuer stored them before the position index: the
	// record alone.
	seven := 7
	old := []Record{
		{ID: "old-token-7", StatusList: tokenA, StatusIndex: &seven},
		{ID: "old-bitstring-7", Bitstring: []BitstringRef{{Purpose: "revocation", List: bitB, Index: 7}, {Purpose: "suspension", List: bitB, Index: 9}}},
	}
	for i := range 48 {
		n := 100 + i
		old = append(old, Record{ID: fmt.Sprintf("old-%d", i), StatusList: tokenA, StatusIndex: &n})
	}
	for _, r := range old {
		r.Configuration, r.Status, r.IssuedAt = "PatientIdentityCredential_dc+sd-jwt", "valid", tick()
		b, _ := json.Marshal(r)
		if err := store.Put(ctx, recordPrefix+r.ID, b, 0); err != nil {
			t.Fatal(err)
		}
	}

	ids := func(recs []Record) string {
		var s []string
		for _, r := range recs {
			s = append(s, r.ID)
		}
		return strings.Join(s, ",")
	}
	at := func(st *Status, index int) string {
		t.Helper()
		recs, err := st.Records(ctx, index)
		if err != nil {
			t.Fatal(err)
		}
		return ids(recs)
	}

	if got := at(st, 7); got != "old-token-7,old-bitstring-7" {
		t.Fatalf("before indexing, at 7: %q", got)
	}
	if n := reads.take(); n != int64(len(old)) {
		t.Fatalf("before indexing, Records read %d records, want all %d", n, len(old))
	}

	if err := st.IndexRecords(ctx); err != nil {
		t.Fatal(err)
	}
	reads.take()
	if err := st.IndexRecords(ctx); err != nil {
		t.Fatal(err)
	}
	if n := reads.take(); n != 0 {
		t.Fatalf("a second IndexRecords read %d records", n)
	}

	// Records issued now index themselves.
	for i := range 100 {
		m := &Minted{ID: fmt.Sprintf("new-%d", i), Status: fmt.Sprintf("%s#%d", tokenC, 200+i)}
		if err := st.RecordIssuance(ctx, "PatientIdentityCredential_dc+sd-jwt", "thumb", m); err != nil {
			t.Fatal(err)
		}
	}
	rev, err := bitstring.NewEntry(bitB, bitstring.Purpose("revocation"), 300)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []*Minted{
		{ID: "new-token-7", Status: tokenC + "#7"},
		{ID: "new-bitstring-300", Bitstring: []bitstring.Entry{rev}},
	} {
		if err := st.RecordIssuance(ctx, "HealthConsentCredential_dc+sd-jwt", "thumb", m); err != nil {
			t.Fatal(err)
		}
	}
	reads.take()

	for _, c := range []struct {
		index int
		want  string
	}{
		{7, "old-token-7,old-bitstring-7,new-token-7"},
		{9, "old-bitstring-7"},
		{300, "new-bitstring-300"},
		{250, "new-50"},
		{120, "old-20"},
		{1, ""},
	} {
		if got := at(st, c.index); got != c.want {
			t.Errorf("at %d: %q, want %q", c.index, got, c.want)
		}
		if n, want := reads.take(), int64(strings.Count(c.want, ",")+1); c.want != "" && n != want {
			t.Errorf("at %d: read %d records, want %d", c.index, n, want)
		} else if c.want == "" && n != 0 {
			t.Errorf("at %d: read %d records, want none", c.index, n)
		}
	}

	// Another instance over the same store uses the index from the start.
	other := &Status{Store: reads, ListURL: st.ListURL, BitstringURL: st.BitstringURL}
	if got := at(other, 7); got != "old-token-7,old-bitstring-7,new-token-7" {
		t.Fatalf("another instance, at 7: %q", got)
	}
	if n := reads.take(); n != 3 {
		t.Fatalf("another instance read %d records at 7, want 3", n)
	}

	// A duplicate id is refused whole: its position is not indexed.
	err = st.RecordIssuance(ctx, "PatientIdentityCredential_dc+sd-jwt", "thumb", &Minted{ID: "new-3", Status: tokenC + "#11"})
	if !errors.Is(err, ErrDuplicateID) {
		t.Fatalf("duplicate id: %v", err)
	}
	if _, err := store.Get(ctx, positionKey(11, tokenC)); !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("the refused duplicate left an index entry: %v", err)
	}

	all, err := st.Records(ctx, -1)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(old)+102 {
		t.Fatalf("all records: %d, want %d", len(all), len(old)+102)
	}
}
