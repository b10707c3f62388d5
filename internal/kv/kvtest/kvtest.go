// Package kvtest holds the conformance suite that every kv.Store
// implementation must pass, in the manner of
// golang.org/x/mod/sumdb/storage.TestStorage, and the helper that finds the
// Redis server used by tests.
//
// It is imported only by _test.go files.
package kvtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medid/medid/internal/kv"
)

// ttl is the lifetime used for entries that must expire during a test, and
// ttlWait how long the tests wait for them to be gone. ttl is long enough
// that the writes before a test's first check finish well within it on a
// loaded machine under the race detector (a synced bbolt write is an fsync
// or two: 100 ms was seen to expire a key before it was read). Redis rounds
// expiry to the millisecond and checks it lazily, so the margin is generous.
const (
	ttl     = 600 * time.Millisecond
	ttlWait = 1100 * time.Millisecond
)

// Run runs the conformance suite against stores made by newStore. Each
// subtest calls newStore once and expects an empty store that is isolated
// from every other store newStore returns; newStore registers its own
// cleanup with t.Cleanup.
func Run(t *testing.T, newStore func(t *testing.T) kv.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s kv.Store)
	}{
		{"GetMissing", testGetMissing},
		{"PutGet", testPutGet},
		{"EmptyValue", testEmptyValue},
		{"Overwrite", testOverwrite},
		{"PutAll", testPutAll},
		{"PutAllIf", testPutAllIf},
		{"ConcurrentPutAllIf", testConcurrentPutAllIf},
		{"TTL", testTTL},
		{"TTLCleared", testTTLCleared},
		{"CreateOnly", testCreateOnly},
		{"Swap", testSwap},
		{"Take", testTake},
		{"ConcurrentTake", testConcurrentTake},
		{"ConcurrentCAS", testConcurrentCAS},
		{"Delete", testDelete},
		{"List", testList},
		{"ListGlobChars", testListGlobChars},
		{"ListStops", testListStops},
		{"ListWhileWriting", testListWhileWriting},
		{"InvalidArguments", testInvalidArguments},
		{"ValuesCopied", testValuesCopied},
		{"ContextCancelled", testContextCancelled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, newStore(t))
		})
	}
}

func mustPut(t *testing.T, s kv.Store, key, value string, ttl time.Duration) {
	t.Helper()
	if err := s.Put(t.Context(), key, []byte(value), ttl); err != nil {
		t.Fatalf("Put(%q, %q, %v): %v", key, value, ttl, err)
	}
}

func wantValue(t *testing.T, s kv.Store, key, want string) {
	t.Helper()
	got, err := s.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v, want %q", key, err, want)
	}
	if string(got) != want {
		t.Fatalf("Get(%q) = %q, want %q", key, got, want)
	}
}

func wantNotFound(t *testing.T, s kv.Store, key string) {
	t.Helper()
	got, err := s.Get(t.Context(), key)
	if !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("Get(%q) = %q, %v; want ErrNotFound", key, got, err)
	}
}

// listAll returns the live entries under prefix as "key=value" strings in
// the order List produced them.
func listAll(t *testing.T, s kv.Store, prefix string) []string {
	t.Helper()
	var out []string
	err := s.List(t.Context(), prefix, func(key string, value []byte) error {
		out = append(out, key+"="+string(value))
		return nil
	})
	if err != nil {
		t.Fatalf("List(%q): %v", prefix, err)
	}
	return out
}

func wantList(t *testing.T, s kv.Store, prefix string, want ...string) {
	t.Helper()
	got := listAll(t, s, prefix)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("List(%q) = %q, want %q", prefix, got, want)
	}
}

func testGetMissing(t *testing.T, s kv.Store) {
	wantNotFound(t, s, "missing")
}

func testPutGet(t *testing.T, s kv.Store) {
	mustPut(t, s, "k", "v", 0)
	wantValue(t, s, "k", "v")
	// Binary values and keys survive unchanged.
	bin := []byte{0, 1, 2, 0xff, 0xfe, '\n', 0}
	if err := s.Put(t.Context(), "bin\x00\xff", bin, 0); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(t.Context(), "bin\x00\xff")
	if err != nil || !bytes.Equal(got, bin) {
		t.Fatalf("Get(binary) = %x, %v; want %x", got, err, bin)
	}
	// A key of exactly MaxKeyLen bytes is accepted.
	long := strings.Repeat("x", kv.MaxKeyLen)
	mustPut(t, s, long, "long", 0)
	wantValue(t, s, long, "long")
}

func testEmptyValue(t *testing.T, s kv.Store) {
	if err := s.Put(t.Context(), "e", nil, 0); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(t.Context(), "e")
	if err != nil {
		t.Fatalf("Get(empty value): %v", err)
	}
	// The value is present, so it must be distinguishable from "absent"
	// when passed back to CompareAndSwap as old.
	if got == nil || len(got) != 0 {
		t.Fatalf("Get(empty value) = %#v, want non-nil empty slice", got)
	}
	if err := s.CompareAndSwap(t.Context(), "e", nil, []byte("x"), 0); !errors.Is(err, kv.ErrConflict) {
		t.Fatalf("create-only CAS over an empty value: %v, want ErrConflict", err)
	}
	if err := s.CompareAndSwap(t.Context(), "e", got, []byte("x"), 0); err != nil {
		t.Fatalf("CAS from empty value: %v", err)
	}
	wantValue(t, s, "e", "x")
}

func testOverwrite(t *testing.T, s kv.Store) {
	mustPut(t, s, "k", "one", 0)
	mustPut(t, s, "k", "two", 0)
	wantValue(t, s, "k", "two")
	mustPut(t, s, "k", "", 0)
	wantValue(t, s, "k", "")
}

// testPutAll checks that PutAll writes every item, that later items win,
// that ttls apply per item, and that an invalid item or a cancelled
// context writes nothing at all.
func testPutAll(t *testing.T, s kv.Store) {
	ctx := t.Context()
	mustPut(t, s, "b/old", "before", 0)
	if err := s.PutAll(ctx, nil); err != nil {
		t.Fatalf("PutAll(nothing): %v", err)
	}
	err := s.PutAll(ctx, []kv.Item{
		{Key: "b/one", Value: []byte("1")},
		{Key: "b/empty"},
		{Key: "b/short", Value: []byte("s"), TTL: ttl},
		{Key: "b/old", Value: []byte("replaced")},
		{Key: "b/one", Value: []byte("1 again")},
	})
	if err != nil {
		t.Fatal(err)
	}
	wantValue(t, s, "b/one", "1 again")
	wantValue(t, s, "b/empty", "")
	wantValue(t, s, "b/short", "s")
	wantValue(t, s, "b/old", "replaced")

	long := strings.Repeat("k", kv.MaxKeyLen+1)
	for name, items := range map[string][]kv.Item{
		"an invalid key": {{Key: "b/x", Value: []byte("x")}, {Key: long, Value: []byte("y")}},
		"an empty key":   {{Key: "b/x", Value: []byte("x")}, {Key: ""}},
		"a negative ttl": {{Key: "b/x", Value: []byte("x")}, {Key: "b/y", TTL: -time.Second}},
	} {
		if err := s.PutAll(ctx, items); !errors.Is(err, kv.ErrInvalid) {
			t.Errorf("PutAll with %s: %v, want ErrInvalid", name, err)
		}
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.PutAll(cancelled, []kv.Item{{Key: "b/x", Value: []byte("x")}}); !errors.Is(err, context.Canceled) {
		t.Errorf("PutAll with a cancelled context: %v, want context.Canceled", err)
	}
	wantNotFound(t, s, "b/x")
	wantNotFound(t, s, "b/y")

	time.Sleep(ttlWait)
	wantNotFound(t, s, "b/short")
	wantList(t, s, "b/", "b/empty=", "b/old=replaced", "b/one=1 again")

	// Deletions, of present and missing keys, in the same write.
	err = s.PutAll(ctx, []kv.Item{
		{Key: "b/old", Delete: true},
		{Key: "b/missing", Delete: true},
		{Key: "b/two", Value: []byte("2")},
		{Key: "b/gone", Value: []byte("x")},
		{Key: "b/gone", Delete: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	wantList(t, s, "b/", "b/empty=", "b/one=1 again", "b/two=2")
}

// testPutAllIf checks the condition of PutAllIf (absent, equal, expired)
// and that a failed condition or an invalid item writes nothing.
func testPutAllIf(t *testing.T, s kv.Store) {
	ctx := t.Context()
	items := func(head string, more ...string) []kv.Item {
		out := []kv.Item{{Key: "c/head", Value: []byte(head)}}
		for _, k := range more {
			out = append(out, kv.Item{Key: k, Value: []byte(head)})
		}
		return out
	}
	if err := s.PutAllIf(ctx, "c/head", nil, items("1", "c/a")); err != nil {
		t.Fatalf("PutAllIf(absent): %v", err)
	}
	wantValue(t, s, "c/head", "1")
	wantValue(t, s, "c/a", "1")
	if err := s.PutAllIf(ctx, "c/head", nil, items("x", "c/x")); !errors.Is(err, kv.ErrConflict) {
		t.Fatalf("PutAllIf(absent) over a present key: %v, want ErrConflict", err)
	}
	if err := s.PutAllIf(ctx, "c/head", []byte("0"), items("x", "c/x")); !errors.Is(err, kv.ErrConflict) {
		t.Fatalf("PutAllIf(wrong old): %v, want ErrConflict", err)
	}
	wantNotFound(t, s, "c/x")
	wantValue(t, s, "c/head", "1")
	if err := s.PutAllIf(ctx, "c/head", []byte("1"), items("2", "c/b")); err != nil {
		t.Fatalf("PutAllIf(equal old): %v", err)
	}
	wantValue(t, s, "c/head", "2")
	wantValue(t, s, "c/b", "2")
	// The condition's key need not be written.
	if err := s.PutAllIf(ctx, "c/head", []byte("2"), []kv.Item{{Key: "c/c", Value: []byte("c")}}); err != nil {
		t.Fatalf("PutAllIf without its key: %v", err)
	}
	wantValue(t, s, "c/head", "2")
	wantValue(t, s, "c/c", "c")
	// A deletion under a condition: not applied on conflict, then applied.
	if err := s.PutAllIf(ctx, "c/head", []byte("1"), []kv.Item{{Key: "c/c", Delete: true}}); !errors.Is(err, kv.ErrConflict) {
		t.Fatalf("PutAllIf(wrong old) deleting: %v, want ErrConflict", err)
	}
	wantValue(t, s, "c/c", "c")
	if err := s.PutAllIf(ctx, "c/head", []byte("2"), []kv.Item{{Key: "c/c", Delete: true}, {Key: "c/d", Value: []byte("d")}}); err != nil {
		t.Fatalf("PutAllIf deleting: %v", err)
	}
	wantNotFound(t, s, "c/c")
	wantValue(t, s, "c/d", "d")

	long := strings.Repeat("k", kv.MaxKeyLen+1)
	if err := s.PutAllIf(ctx, "c/head", []byte("2"), append(items("3", "c/y"), kv.Item{Key: long})); !errors.Is(err, kv.ErrInvalid) {
		t.Fatalf("PutAllIf with an invalid item: %v, want ErrInvalid", err)
	}
	if err := s.PutAllIf(ctx, "", nil, items("3", "c/y")); !errors.Is(err, kv.ErrInvalid) {
		t.Fatalf("PutAllIf on an empty key: %v, want ErrInvalid", err)
	}
	wantNotFound(t, s, "c/y")
	wantValue(t, s, "c/head", "2")

	// An expired key is absent.
	mustPut(t, s, "c/short", "v", ttl)
	time.Sleep(ttlWait)
	if err := s.PutAllIf(ctx, "c/short", []byte("v"), []kv.Item{{Key: "c/z", Value: []byte("z")}}); !errors.Is(err, kv.ErrConflict) {
		t.Fatalf("PutAllIf from an expired value: %v, want ErrConflict", err)
	}
	if err := s.PutAllIf(ctx, "c/short", nil, []kv.Item{{Key: "c/short", Value: []byte("new")}}); err != nil {
		t.Fatalf("PutAllIf(absent) over an expired key: %v", err)
	}
	wantValue(t, s, "c/short", "new")
	wantNotFound(t, s, "c/z")
}

// testConcurrentPutAllIf: writers racing to advance a counter with
// PutAllIf each write one record per step they win; every step is won
// exactly once and every record is there.
func testConcurrentPutAllIf(t *testing.T, s kv.Store) {
	ctx := t.Context()
	const writers, steps = 8, 10
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for won := 0; won < steps; {
				cur, err := s.Get(ctx, "n")
				var n int
				switch {
				case errors.Is(err, kv.ErrNotFound):
					cur = nil
				case err != nil:
					t.Error(err)
					return
				default:
					n, _ = strconv.Atoi(string(cur))
				}
				next := strconv.Itoa(n + 1)
				err = s.PutAllIf(ctx, "n", cur, []kv.Item{{Key: "n", Value: []byte(next)}, {Key: "rec/" + next, Value: []byte(strconv.Itoa(w))}})
				if errors.Is(err, kv.ErrConflict) {
					continue
				}
				if err != nil {
					t.Error(err)
					return
				}
				won++
			}
		})
	}
	wg.Wait()
	wantValue(t, s, "n", strconv.Itoa(writers*steps))
	if got := len(listAll(t, s, "rec/")); got != writers*steps {
		t.Fatalf("%d records, want %d", got, writers*steps)
	}
}

func testTTL(t *testing.T, s kv.Store) {
	ctx := t.Context()
	mustPut(t, s, "t/put", "v", ttl)
	mustPut(t, s, "t/take", "v", ttl)
	mustPut(t, s, "t/cas-create", "v", ttl)
	mustPut(t, s, "t/cas-swap", "v", ttl)
	if err := s.CompareAndSwap(ctx, "t/cas", nil, []byte("v"), ttl); err != nil {
		t.Fatal(err)
	}
	mustPut(t, s, "t/forever", "f", 0)
	mustPut(t, s, "t/long", "l", time.Hour)
	wantValue(t, s, "t/put", "v")
	wantValue(t, s, "t/cas", "v")

	time.Sleep(ttlWait)

	wantNotFound(t, s, "t/put")
	wantNotFound(t, s, "t/cas")
	wantValue(t, s, "t/forever", "f")
	wantValue(t, s, "t/long", "l")
	wantList(t, s, "t/", "t/forever=f", "t/long=l")
	if got, err := s.Take(ctx, "t/take"); !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("Take(expired) = %q, %v; want ErrNotFound", got, err)
	}
	// An expired key is absent: swapping from its old value fails and
	// creating it succeeds.
	if err := s.CompareAndSwap(ctx, "t/cas-swap", []byte("v"), []byte("w"), 0); !errors.Is(err, kv.ErrConflict) {
		t.Fatalf("CAS from expired value: %v, want ErrConflict", err)
	}
	if err := s.CompareAndSwap(ctx, "t/cas-create", nil, []byte("new"), 0); err != nil {
		t.Fatalf("create-only CAS over expired key: %v", err)
	}
	wantValue(t, s, "t/cas-create", "new")
	// Deleting an expired key is not an error.
	if err := s.Delete(ctx, "t/put"); err != nil {
		t.Fatalf("Delete(expired): %v", err)
	}
}

// testTTLCleared checks that a write with ttl 0 makes a key persistent even
// if it had a lifetime before, for Put and for CompareAndSwap.
func testTTLCleared(t *testing.T, s kv.Store) {
	ctx := t.Context()
	mustPut(t, s, "put", "1", ttl)
	mustPut(t, s, "put", "2", 0)
	mustPut(t, s, "cas", "1", ttl)
	if err := s.CompareAndSwap(ctx, "cas", []byte("1"), []byte("2"), 0); err != nil {
		t.Fatal(err)
	}
	// And the other way: a swap with a ttl gives a persistent key a lifetime.
	mustPut(t, s, "gain", "1", 0)
	if err := s.CompareAndSwap(ctx, "gain", []byte("1"), []byte("2"), ttl); err != nil {
		t.Fatal(err)
	}
	time.Sleep(ttlWait)
	wantValue(t, s, "put", "2")
	wantValue(t, s, "cas", "2")
	wantNotFound(t, s, "gain")
}

func testCreateOnly(t *testing.T, s kv.Store) {
	ctx := t.Context()
	if err := s.CompareAndSwap(ctx, "c", nil, []byte("first"), 0); err != nil {
		t.Fatalf("create-only CAS of a new key: %v", err)
	}
	wantValue(t, s, "c", "first")
	if err := s.CompareAndSwap(ctx, "c", nil, []byte("second"), 0); !errors.Is(err, kv.ErrConflict) {
		t.Fatalf("create-only CAS of an existing key: %v, want ErrConflict", err)
	}
	wantValue(t, s, "c", "first")
}

func testSwap(t *testing.T, s kv.Store) {
	ctx := t.Context()
	mustPut(t, s, "s", "one", 0)
	if err := s.CompareAndSwap(ctx, "s", []byte("two"), []byte("three"), 0); !errors.Is(err, kv.ErrConflict) {
		t.Fatalf("CAS with wrong old: %v, want ErrConflict", err)
	}
	// A prefix of the stored value is not a match.
	if err := s.CompareAndSwap(ctx, "s", []byte("on"), []byte("three"), 0); !errors.Is(err, kv.ErrConflict) {
		t.Fatalf("CAS with old a prefix of the value: %v, want ErrConflict", err)
	}
	wantValue(t, s, "s", "one")
	if err := s.CompareAndSwap(ctx, "s", []byte("one"), []byte("two"), 0); err != nil {
		t.Fatalf("CAS with matching old: %v", err)
	}
	wantValue(t, s, "s", "two")
	// Swapping a missing key from a non-nil old fails and creates nothing.
	if err := s.CompareAndSwap(ctx, "absent", []byte("x"), []byte("y"), 0); !errors.Is(err, kv.ErrConflict) {
		t.Fatalf("CAS of a missing key with non-nil old: %v, want ErrConflict", err)
	}
	if err := s.CompareAndSwap(ctx, "absent", []byte{}, []byte("y"), 0); !errors.Is(err, kv.ErrConflict) {
		t.Fatalf("CAS of a missing key with empty old: %v, want ErrConflict", err)
	}
	wantNotFound(t, s, "absent")
}

func testTake(t *testing.T, s kv.Store) {
	ctx := t.Context()
	mustPut(t, s, "n", "nonce", 0)
	got, err := s.Take(ctx, "n")
	if err != nil || string(got) != "nonce" {
		t.Fatalf("Take = %q, %v; want %q", got, err, "nonce")
	}
	if got, err := s.Take(ctx, "n"); !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("second Take = %q, %v; want ErrNotFound", got, err)
	}
	wantNotFound(t, s, "n")
	if _, err := s.Take(ctx, "never"); !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("Take(missing): %v, want ErrNotFound", err)
	}
}

func testConcurrentTake(t *testing.T, s kv.Store) {
	const n = 50
	mustPut(t, s, "once", "secret", 0)
	var (
		wg      sync.WaitGroup
		start   = make(chan struct{})
		mu      sync.Mutex
		winners int
		errs    []error
	)
	for range n {
		wg.Go(func() {
			<-start
			v, err := s.Take(t.Context(), "once")
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil && string(v) == "secret":
				winners++
			case errors.Is(err, kv.ErrNotFound):
			default:
				errs = append(errs, fmt.Errorf("Take = %q, %v", v, err))
			}
		})
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		t.Error(err)
	}
	if winners != 1 {
		t.Fatalf("%d concurrent Takes: %d winners, want exactly 1", n, winners)
	}
}

func testConcurrentCAS(t *testing.T, s kv.Store) {
	const (
		workers = 20
		each    = 10
	)
	ctx := t.Context()
	if err := s.CompareAndSwap(ctx, "counter", nil, []byte("0"), 0); err != nil {
		t.Fatal(err)
	}
	increment := func() error {
		for {
			old, err := s.Get(ctx, "counter")
			if err != nil {
				return err
			}
			n, err := strconv.Atoi(string(old))
			if err != nil {
				return fmt.Errorf("counter holds %q", old)
			}
			err = s.CompareAndSwap(ctx, "counter", old, []byte(strconv.Itoa(n+1)), 0)
			if !errors.Is(err, kv.ErrConflict) {
				return err
			}
		}
	}
	var wg sync.WaitGroup
	errc := make(chan error, workers*each)
	for range workers {
		wg.Go(func() {
			for range each {
				if err := increment(); err != nil {
					errc <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	wantValue(t, s, "counter", strconv.Itoa(workers*each))
}

func testDelete(t *testing.T, s kv.Store) {
	ctx := t.Context()
	mustPut(t, s, "d", "v", 0)
	mustPut(t, s, "d2", "v", 0)
	if err := s.Delete(ctx, "d"); err != nil {
		t.Fatal(err)
	}
	wantNotFound(t, s, "d")
	wantValue(t, s, "d2", "v")
	if err := s.Delete(ctx, "d"); err != nil {
		t.Fatalf("Delete(missing): %v", err)
	}
	// A deleted key can be created again.
	if err := s.CompareAndSwap(ctx, "d", nil, []byte("again"), 0); err != nil {
		t.Fatal(err)
	}
	wantValue(t, s, "d", "again")
}

func testList(t *testing.T, s kv.Store) {
	// Written out of order; List must sort.
	for _, k := range []string{"a/2", "ab/1", "a/10", "a/1", "b/1", "a", "a/\xff"} {
		mustPut(t, s, k, "v"+k, 0)
	}
	wantList(t, s, "a/", "a/1=va/1", "a/10=va/10", "a/2=va/2", "a/\xff=va/\xff")
	wantList(t, s, "ab/", "ab/1=vab/1")
	wantList(t, s, "a", "a=va", "a/1=va/1", "a/10=va/10", "a/2=va/2", "a/\xff=va/\xff", "ab/1=vab/1")
	wantList(t, s, "", "a=va", "a/1=va/1", "a/10=va/10", "a/2=va/2", "a/\xff=va/\xff", "ab/1=vab/1", "b/1=vb/1")
	wantList(t, s, "c/")
	wantList(t, s, "a/1", "a/1=va/1", "a/10=va/10")

	// More entries than any plausible batch or page size come back complete
	// and in order.
	const n = 1200
	for i := range n {
		mustPut(t, s, fmt.Sprintf("many/%05d", i), "x", 0)
	}
	got := listAll(t, s, "many/")
	if len(got) != n {
		t.Fatalf("List(many/) returned %d entries, want %d", len(got), n)
	}
	for i, e := range got {
		if want := fmt.Sprintf("many/%05d=x", i); e != want {
			t.Fatalf("List(many/)[%d] = %q, want %q", i, e, want)
		}
	}
}

// testListGlobChars checks that List treats its prefix literally, even when
// it holds characters that are special to glob patterns.
func testListGlobChars(t *testing.T, s kv.Store) {
	keys := []string{"x*/1", "xa/1", "x?/1", "x[a]/1", "xa]/1", `x\/1`, "x/1", "x^/1", "x-/1"}
	for _, k := range keys {
		mustPut(t, s, k, "v", 0)
	}
	for _, k := range keys {
		prefix := strings.TrimSuffix(k, "1")
		wantList(t, s, prefix, k+"=v")
	}
	wantList(t, s, "x[", "x[a]/1=v")
}

func testListStops(t *testing.T, s kv.Store) {
	for _, k := range []string{"l/1", "l/2", "l/3"} {
		mustPut(t, s, k, "v", 0)
	}
	stop := errors.New("stop here")
	var seen []string
	err := s.List(t.Context(), "l/", func(key string, _ []byte) error {
		seen = append(seen, key)
		if key == "l/2" {
			return fmt.Errorf("wrapped: %w", stop)
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Fatalf("List returned %v, want fn's error", err)
	}
	if strings.Join(seen, ",") != "l/1,l/2" {
		t.Fatalf("List called fn for %q, want [l/1 l/2]", seen)
	}
}

// testListWhileWriting checks that fn may use the store: List must not hold
// a lock that the store's own writes need.
func testListWhileWriting(t *testing.T, s kv.Store) {
	for _, k := range []string{"w/1", "w/2", "w/3"} {
		mustPut(t, s, k, "v", 0)
	}
	ctx := t.Context()
	done := make(chan error, 1)
	go func() {
		done <- s.List(ctx, "w/", func(key string, _ []byte) error {
			if err := s.Delete(ctx, key); err != nil {
				return err
			}
			return s.Put(ctx, "other/"+key, []byte("copied"), 0)
		})
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("List with writes in fn: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("List with writes in fn did not return: deadlock?")
	}
	wantList(t, s, "w/")
	wantList(t, s, "other/", "other/w/1=copied", "other/w/2=copied", "other/w/3=copied")
}

func testInvalidArguments(t *testing.T, s kv.Store) {
	ctx := t.Context()
	long := strings.Repeat("k", kv.MaxKeyLen+1)
	for _, key := range []string{"", long} {
		name := fmt.Sprintf("key of %d bytes", len(key))
		check := func(op string, err error) {
			t.Helper()
			if !errors.Is(err, kv.ErrInvalid) {
				t.Errorf("%s with %s: %v, want ErrInvalid", op, name, err)
			}
		}
		_, err := s.Get(ctx, key)
		check("Get", err)
		check("Put", s.Put(ctx, key, []byte("v"), 0))
		check("CompareAndSwap", s.CompareAndSwap(ctx, key, nil, []byte("v"), 0))
		_, err = s.Take(ctx, key)
		check("Take", err)
		check("Delete", s.Delete(ctx, key))
	}
	if err := s.Put(ctx, "neg", []byte("v"), -time.Second); !errors.Is(err, kv.ErrInvalid) {
		t.Errorf("Put with negative ttl: %v, want ErrInvalid", err)
	}
	if err := s.CompareAndSwap(ctx, "neg", nil, []byte("v"), -time.Second); !errors.Is(err, kv.ErrInvalid) {
		t.Errorf("CompareAndSwap with negative ttl: %v, want ErrInvalid", err)
	}
	wantNotFound(t, s, "neg")
	wantList(t, s, "")
}

func testValuesCopied(t *testing.T, s kv.Store) {
	ctx := t.Context()
	in := []byte("original")
	if err := s.Put(ctx, "p", in, 0); err != nil {
		t.Fatal(err)
	}
	copy(in, "XXXXXXXX")
	wantValue(t, s, "p", "original")

	got, err := s.Get(ctx, "p")
	if err != nil {
		t.Fatal(err)
	}
	copy(got, "YYYYYYYY")
	wantValue(t, s, "p", "original")

	in = []byte("created")
	if err := s.CompareAndSwap(ctx, "c", nil, in, 0); err != nil {
		t.Fatal(err)
	}
	copy(in, "XXXXXXX")
	wantValue(t, s, "c", "created")

	err = s.List(ctx, "", func(_ string, v []byte) error {
		copy(v, "ZZZZZZZ")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	wantValue(t, s, "p", "original")
	wantValue(t, s, "c", "created")
}

func testContextCancelled(t *testing.T, s kv.Store) {
	mustPut(t, s, "k", "v", 0)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	check := func(op string, err error) {
		t.Helper()
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with cancelled context: %v, want context.Canceled", op, err)
		}
	}
	_, err := s.Get(ctx, "k")
	check("Get", err)
	check("Put", s.Put(ctx, "k", []byte("w"), 0))
	check("CompareAndSwap", s.CompareAndSwap(ctx, "k", []byte("v"), []byte("w"), 0))
	_, err = s.Take(ctx, "k")
	check("Take", err)
	check("Delete", s.Delete(ctx, "k"))
	called := false
	check("List", s.List(ctx, "", func(string, []byte) error { called = true; return nil }))
	if called {
		t.Error("List called fn with a cancelled context")
	}
	// Nothing was changed.
	wantValue(t, s, "k", "v")
}
