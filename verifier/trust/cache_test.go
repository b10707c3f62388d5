package trust_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medid/medid/verifier/trust"
)

// countingStore counts the reads of the lists and can fail them or stop
// them between the read and its answer.
type countingStore struct {
	trust.Store
	gets  atomic.Int64
	fail  atomic.Bool
	after func() // if set, runs after a read, before its answer
}

func (s *countingStore) Get(ctx context.Context, key string) ([]byte, error) {
	s.gets.Add(1)
	if s.fail.Load() {
		return nil, errors.New("store down")
	}
	b, err := s.Store.Get(ctx, key)
	if s.after != nil {
		s.after()
	}
	return b, err
}

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func trusted(t *testing.T, r *trust.Registry, issuer string, types ...string) bool {
	t.Helper()
	ok, _, err := r.Trusted(context.Background(), issuer, types)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// TestTrustedCache runs two Registries over one store, as two instances
// sharing Redis do: each sees its own changes at once and the other's
// within trust.MaxStale, and reads the store at most once per type and
// MaxStale in between.
func TestTrustedCache(t *testing.T) {
	for name, s := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			clk := &testClock{t: t0}
			cs := &countingStore{Store: s}
			one, other := trust.New(cs, clk.Now), trust.New(s, clk.Now)
			t.Cleanup(func() {
				for _, typ := range []string{vct, trust.Any} {
					_ = other.Delete(context.Background(), typ)
				}
			})
			if _, err := other.Set(ctx, vct, []string{issA}); err != nil {
				t.Fatal(err)
			}
			if !trusted(t, one, issA, vct) || trusted(t, one, issB, vct) {
				t.Fatal("the list is not followed")
			}
			gets := cs.gets.Load()
			if gets != 2 { // vct, then Any for issB
				t.Fatalf("%d reads for two types", gets)
			}
			clk.Add(trust.MaxStale / 2)
			if !trusted(t, one, issA, vct) || trusted(t, one, issB, vct) || cs.gets.Load() != gets {
				t.Fatal("within MaxStale the lists are not answered from memory")
			}

			// Another instance removes the issuer: it stays trusted at most
			// MaxStale after the lists were read, never longer.
			if _, err := other.Set(ctx, vct, []string{issB}); err != nil {
				t.Fatal(err)
			}
			clk.Add(trust.MaxStale/2 - time.Nanosecond)
			if !trusted(t, one, issA, vct) {
				t.Fatal("answered from the store within MaxStale") // the bound is what the package documents
			}
			clk.Add(time.Nanosecond)
			if trusted(t, one, issA, vct) {
				t.Fatal("a removed issuer is trusted MaxStale after the lists were read")
			}
			if !trusted(t, one, issB, vct) {
				t.Fatal("an added issuer is not trusted MaxStale after the lists were read")
			}

			// A type with no list is remembered too, within the same bound.
			if trusted(t, one, issA, "OtherCredential") {
				t.Fatal("trusted for a type without a list")
			}
			if _, err := other.Set(ctx, trust.Any, []string{issA}); err != nil {
				t.Fatal(err)
			}
			clk.Add(trust.MaxStale)
			if !trusted(t, one, issA, "OtherCredential") {
				t.Fatal("an issuer listed under * by another instance is not trusted after MaxStale")
			}

			// This instance's own changes are seen at once.
			if err := one.Delete(ctx, trust.Any); err != nil {
				t.Fatal(err)
			}
			if trusted(t, one, issA, "OtherCredential") {
				t.Fatal("an issuer removed through this Registry is still trusted")
			}
			if _, err := one.Set(ctx, vct, []string{issA}); err != nil {
				t.Fatal(err)
			}
			if !trusted(t, one, issA, vct) || trusted(t, one, issB, vct) {
				t.Fatal("a list set through this Registry is not seen at once")
			}

			// A failed read is not kept: the check fails while the store
			// does, and works again as soon as it does.
			clk.Add(trust.MaxStale)
			cs.fail.Store(true)
			if _, _, err := one.Trusted(ctx, issA, []string{vct}); err == nil {
				t.Fatal("no error from a failing store")
			}
			cs.fail.Store(false)
			if !trusted(t, one, issA, vct) {
				t.Fatal("the error was kept")
			}
		})
	}
}

// TestTrustedCacheRace: a read that began before a change through the same
// Registry, and answers after it, must not leave the old list in use.
func TestTrustedCacheRace(t *testing.T) {
	ctx := context.Background()
	s := stores(t)["bolt"]
	read, release := make(chan struct{}), make(chan struct{})
	cs := &countingStore{Store: s}
	r := trust.New(cs, func() time.Time { return t0 })
	if _, err := r.Set(ctx, vct, []string{issA}); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	cs.after = func() {
		once.Do(func() {
			close(read)
			<-release
		})
	}
	done := make(chan bool)
	go func() {
		ok, _, _ := r.Trusted(ctx, issA, []string{vct})
		done <- ok
	}()
	<-read // the old list is read and not yet kept
	if _, err := r.Set(ctx, vct, []string{issB}); err != nil {
		t.Fatal(err)
	}
	close(release)
	if !<-done {
		t.Fatal("the read that began before the change did not see the old list")
	}
	if trusted(t, r, issA, vct) {
		t.Fatal("the list read before a change is used after it")
	}
	if !trusted(t, r, issB, vct) {
		t.Fatal("the changed list is not used")
	}
}
