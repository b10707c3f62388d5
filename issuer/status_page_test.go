package issuer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/medid/medid/internal/kv"
	"github.com/medid/medid/internal/kv/boltkv"
	"github.com/medid/medid/internal/kv/kvtest"
	"github.com/medid/medid/internal/kv/rediskv"
)

func TestRecordsPageBolt(t *testing.T) {
	store, err := boltkv.Open(filepath.Join(t.TempDir(), "kv.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	testRecordsPage(t, store)
}

func TestRecordsPageRedis(t *testing.T) {
	store, err := rediskv.Open(kvtest.RedisURL(t), "medid-issuer-test:"+randomToken(6)+":")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	testRecordsPage(t, store)
}

// testRecordsPage: paging through the records, at any page size, gives
// every record once, in the order of Records (issue time, then id), also
// where records share an issue time and their keys are in another order;
// a record issued while paging comes on a later page; a cursor this
// server did not give is refused.
func testRecordsPage(t *testing.T, store kv.Store) {
	ctx := context.Background()
	st := &Status{Store: store, ListURL: "https://issuer.example/status/token/"}
	base := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	const n = 157
	for i := range n {
		// Three records a second, stored in an order unrelated to it.
		j := rand.IntN(1 << 30)
		idx := i % 5
		r := Record{ID: fmt.Sprintf("rec-%09d-%d", j, i), Configuration: "PatientIdentityCredential_dc+sd-jwt", Status: "valid",
			StatusList: st.ListURL + "a", StatusIndex: &idx, IssuedAt: base.Add(time.Duration(i/3) * time.Second)}
		b, _ := json.Marshal(r)
		if err := store.Put(ctx, recordPrefix+r.ID, b, 0); err != nil {
			t.Fatal(err)
		}
	}
	all, err := st.Records(ctx, -1)
	if err != nil || len(all) != n {
		t.Fatalf("Records: %d, %v", len(all), err)
	}
	for i := 1; i < len(all); i++ {
		if compareRecords(all[i-1], all[i]) >= 0 {
			t.Fatalf("Records out of order at %d: %v %s, %v %s", i, all[i-1].IssuedAt, all[i-1].ID, all[i].IssuedAt, all[i].ID)
		}
	}

	pageThrough := func(index, limit int) ([]Record, int) {
		t.Helper()
		var got []Record
		cursor, pages := "", 0
		for {
			p, err := st.RecordsPage(ctx, index, limit, cursor)
			if err != nil {
				t.Fatalf("limit %d, page %d: %v", limit, pages, err)
			}
			pages++
			if len(p.Records) > limit || (p.NextCursor != "" && len(p.Records) != limit) {
				t.Fatalf("limit %d: a page of %d, next %q", limit, len(p.Records), p.NextCursor)
			}
			got = append(got, p.Records...)
			if p.NextCursor == "" {
				return got, pages
			}
			if pages > n+1 {
				t.Fatalf("limit %d: more than %d pages", limit, n+1)
			}
			cursor = p.NextCursor
		}
	}
	same := func(what string, got, want []Record) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: %d records, want %d", what, len(got), len(want))
		}
		for i := range got {
			if got[i].ID != want[i].ID {
				t.Fatalf("%s: record %d is %s, want %s", what, i, got[i].ID, want[i].ID)
			}
		}
	}
	for _, limit := range []int{1, 2, 3, 7, 156, 157, 158, MaxRecordsLimit} {
		got, pages := pageThrough(-1, limit)
		same(fmt.Sprintf("limit %d", limit), got, all)
		if want := (n + limit - 1) / limit; pages != want {
			t.Errorf("limit %d: %d pages, want %d", limit, pages, want)
		}
	}
	at3, err := st.Records(ctx, 3)
	if err != nil || len(at3) == 0 {
		t.Fatalf("Records at 3: %d, %v", len(at3), err)
	}
	got, _ := pageThrough(3, 4)
	same("at index 3", got, at3)

	// A record issued between two pages comes on a later one.
	p1, err := st.RecordsPage(ctx, -1, 10, "")
	if err != nil {
		t.Fatal(err)
	}
	late := Record{ID: "rec-late", Status: "valid", IssuedAt: base.Add(time.Hour)}
	b, _ := json.Marshal(late)
	if err := store.Put(ctx, recordPrefix+late.ID, b, 0); err != nil {
		t.Fatal(err)
	}
	rest, cursor := []Record{}, p1.NextCursor
	for i := 0; cursor != ""; i++ {
		if i > n {
			t.Fatal("no end of pages after a late issuance")
		}
		p, err := st.RecordsPage(ctx, -1, 50, cursor)
		if err != nil {
			t.Fatal(err)
		}
		rest, cursor = append(rest, p.Records...), p.NextCursor
	}
	same("after a late issuance", append(p1.Records, rest...), append(all[:len(all):len(all)], late))

	for _, c := range []string{"%%%", "bm90IGEgY3Vyc29y", string(make([]byte, 400))} {
		if _, err := st.RecordsPage(ctx, -1, 10, c); !errors.Is(err, ErrBadCursor) {
			t.Errorf("cursor %q: %v, want ErrBadCursor", c[:min(len(c), 20)], err)
		}
	}
	for _, limit := range []int{0, -1, MaxRecordsLimit + 1} {
		if _, err := st.RecordsPage(ctx, -1, limit, ""); err == nil {
			t.Errorf("limit %d accepted", limit)
		}
	}
}
