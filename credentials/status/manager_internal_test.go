package status

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/medid/medid/internal/kv/boltkv"
)

func openBolt(t *testing.T) *boltkv.Store {
	t.Helper()
	s, err := boltkv.OpenWith(filepath.Join(t.TempDir(), "kv.db"), boltkv.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// fillPages brings every page of list id to the fill threshold, as if
// half the list had been allocated.
func fillPages(t *testing.T, s *boltkv.Store, id string, size int) {
	t.Helper()
	ctx := context.Background()
	for n := range size / pageBits {
		key := pageKey(id, n)
		old, _ := s.Get(ctx, key)
		p, err := decodePage(old)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; p.used() < pageLimit; i++ {
			p.set(i)
		}
		if err := s.Put(ctx, key, p.encode(), 0); err != nil {
			t.Fatal(err)
		}
	}
}

func countLists(t *testing.T, s *boltkv.Store) int {
	t.Helper()
	n := 0
	err := s.List(context.Background(), keyPrefix+"list/", func(string, []byte) error { n++; return nil })
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestRollover: once the current list reaches the fill threshold,
// concurrent Allocate calls open exactly one new list, drop the lists of
// the callers that lost the race, and keep the full list readable.
func TestRollover(t *testing.T) {
	ctx := context.Background()
	s := openBolt(t)
	m, err := NewManager(s, Options{})
	if err != nil {
		t.Fatal(err)
	}
	first, err := m.Allocate(ctx, TokenStatus)
	if err != nil {
		t.Fatal(err)
	}
	fillPages(t, s, first.ListID, DefaultSize)

	const workers = 20
	refs := make([]ListRef, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			ref, err := m.Allocate(ctx, TokenStatus)
			if err != nil {
				t.Error(err)
			}
			refs[w] = ref
		})
	}
	wg.Wait()
	second := refs[0].ListID
	if second == first.ListID {
		t.Fatal("no new list after the threshold")
	}
	for _, r := range refs {
		if r.ListID != second {
			t.Fatalf("allocations spread over lists %s and %s", second, r.ListID)
		}
	}
	if n := countLists(t, s); n != 2 {
		t.Errorf("%d list records, want 2 (lost rollovers must be dropped)", n)
	}
	// The full list still serves its holders.
	if err := m.SetStatus(ctx, first, 1); err != nil {
		t.Fatal(err)
	}
	if snap, err := m.Snapshot(ctx, first.ListID); err != nil || snap.Version != 2 {
		t.Errorf("old list: %+v, %v", snap, err)
	}
}

// TestPagesStopAtThreshold: no page is filled beyond half, whatever the
// order of allocations.
func TestPagesStopAtThreshold(t *testing.T) {
	ctx := context.Background()
	s := openBolt(t)
	m, _ := NewManager(s, Options{})
	var id string
	for range 3000 {
		ref, err := m.Allocate(ctx, BitstringSuspension)
		if err != nil {
			t.Fatal(err)
		}
		id = ref.ListID
	}
	total := 0
	err := s.List(ctx, keyPrefix+"alloc/"+id+"/", func(key string, v []byte) error {
		p, err := decodePage(v)
		if err != nil {
			return err
		}
		if p.used() > pageLimit {
			t.Errorf("%s: %d used, limit %d", key, p.used(), pageLimit)
		}
		total += p.used()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if total != 3000 {
		t.Errorf("%d bits set in the pages, want 3000", total)
	}
}

func TestKeysAndRecords(t *testing.T) {
	if k := pageKey("0123456789abcdef0123456789abcdef", 7); k != "status/alloc/0123456789abcdef0123456789abcdef/00007" {
		t.Errorf("pageKey = %q", k)
	}
	for _, id := range []string{"", "0123456789ABCDEF0123456789ABCDEF", strings.Repeat("a", 31), strings.Repeat("a", 33), "0123456789abcdef0123456789abcde/"} {
		if validListID(id) {
			t.Errorf("validListID(%q)", id)
		}
	}
	for _, b := range [][]byte{{}, {2}, append([]byte{2}, make([]byte, pageBytes)...), make([]byte, pageBytes)} {
		if _, err := decodePage(b); err == nil {
			t.Errorf("decodePage(% x) accepted", b)
		}
	}
	for _, b := range []string{`{}`, `{"v":2,"list":"0123456789abcdef0123456789abcdef","size":131072}`, `{"v":1,"list":"x","size":131072}`, `{"v":1,"list":"0123456789abcdef0123456789abcdef","size":100}`} {
		if _, err := decodeCurrent([]byte(b)); err == nil {
			t.Errorf("decodeCurrent(%s) accepted", b)
		}
	}
	for _, b := range []string{
		`{"v":1,"purpose":"token","size":131072,"version":1,"data":"AAAA"}`,
		`{"v":1,"purpose":"message","size":131072,"version":1,"data":""}`,
		`not json`,
	} {
		if _, err := decodeList([]byte(b)); err == nil {
			t.Errorf("decodeList(%s) accepted", b)
		}
	}
	var p page
	p.set(0)
	p.set(2)
	if p.freeAt(0) != 1 || p.freeAt(1) != 3 || p.used() != 2 {
		t.Errorf("freeAt/used wrong: %d %d %d", p.freeAt(0), p.freeAt(1), p.used())
	}
}
