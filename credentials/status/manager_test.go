package status_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/medid/medid/credentials/status"
	"github.com/medid/medid/credentials/status/bitstring"
	"github.com/medid/medid/credentials/status/tokenlist"
	"github.com/medid/medid/internal/kv/boltkv"
)

// openStore opens bbolt in t.TempDir(). noSync skips fsync, for the tests
// that write thousands of times (the store is otherwise the real one).
func openStore(t testing.TB, noSync bool) *boltkv.Store {
	t.Helper()
	s, err := boltkv.OpenWith(filepath.Join(t.TempDir(), "kv.db"), boltkv.Options{NoSync: noSync})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func newManager(t testing.TB, noSync bool) (*status.Manager, *clock) {
	t.Helper()
	c := &clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	m, err := status.NewManager(openStore(t, noSync), status.Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	return m, c
}

var ctx = context.Background()

func TestNewManagerOptions(t *testing.T) {
	s := openStore(t, true)
	for _, size := range []int{-1, 1024, status.MinSize - 1024, status.MinSize + 1, status.MaxSize + 1024} {
		if _, err := status.NewManager(s, status.Options{Size: size}); err == nil {
			t.Errorf("Size %d accepted", size)
		}
	}
	m, err := status.NewManager(s, status.Options{Size: 2 * status.MinSize})
	if err != nil {
		t.Fatal(err)
	}
	ref, err := m.Allocate(ctx, status.TokenStatus)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := m.Snapshot(ctx, ref.ListID)
	if err != nil || snap.Size != 2*status.MinSize || snap.Bits != 2 {
		t.Errorf("Snapshot = %+v, %v", snap, err)
	}
	if _, err := status.NewManager(nil, status.Options{}); err == nil {
		t.Error("nil store accepted")
	}
	if _, err := m.Allocate(ctx, "message"); err == nil {
		t.Error("unknown purpose accepted")
	}
}

// TestAllocateConcurrent: 50 goroutines × 200 allocations never share an
// index.
func TestAllocateConcurrent(t *testing.T) {
	m, _ := newManager(t, true)
	const workers, each = 50, 200
	refs := make([][]status.ListRef, workers)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for range each {
				ref, err := m.Allocate(ctx, status.TokenStatus)
				if err != nil {
					errs <- err
					return
				}
				refs[w] = append(refs[w], ref)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	seen := map[status.ListRef]bool{}
	for _, rs := range refs {
		for _, r := range rs {
			if seen[r] {
				t.Fatalf("%+v handed out twice", r)
			}
			seen[r] = true
			if r.Index < 0 || r.Index >= status.DefaultSize {
				t.Fatalf("%+v out of range", r)
			}
		}
	}
	if len(seen) != workers*each {
		t.Fatalf("%d distinct refs, want %d", len(seen), workers*each)
	}
}

// TestAllocateRandom: indexes do not reveal the order of issuance.
func TestAllocateRandom(t *testing.T) {
	m, _ := newManager(t, true)
	var idx []int
	for range 200 {
		ref, err := m.Allocate(ctx, status.BitstringRevocation)
		if err != nil {
			t.Fatal(err)
		}
		idx = append(idx, ref.Index)
	}
	up, adjacent := 0, 0
	for i := 1; i < len(idx); i++ {
		if idx[i] > idx[i-1] {
			up++
		}
		if d := idx[i] - idx[i-1]; d == 1 || d == -1 {
			adjacent++
		}
	}
	// A random sequence rises about half the time; a sequential one always.
	if up < 60 || up > 140 {
		t.Errorf("%d of 199 steps go up: not random", up)
	}
	if adjacent > 5 {
		t.Errorf("%d adjacent steps: not random", adjacent)
	}
	lo, hi := slices.Min(idx), slices.Max(idx)
	if hi-lo < status.DefaultSize/2 {
		t.Errorf("indexes span only [%d, %d]", lo, hi)
	}
}

// TestAllocateDeterministicRand: Options.Rand is the only source of
// randomness.
func TestAllocateDeterministicRand(t *testing.T) {
	run := func() []status.ListRef {
		m, err := status.NewManager(openStore(t, true), status.Options{Rand: rand.NewChaCha8([32]byte{7})})
		if err != nil {
			t.Fatal(err)
		}
		var refs []status.ListRef
		for range 20 {
			ref, err := m.Allocate(ctx, status.TokenStatus)
			if err != nil {
				t.Fatal(err)
			}
			refs = append(refs, ref)
		}
		return refs
	}
	if a, b := run(), run(); !slices.Equal(a, b) {
		t.Errorf("same seed, different refs:\n%v\n%v", a, b)
	}
}

func TestPurposesHaveTheirOwnLists(t *testing.T) {
	m, _ := newManager(t, true)
	lists := map[string]status.Purpose{}
	for _, p := range []status.Purpose{status.TokenStatus, status.BitstringRevocation, status.BitstringSuspension} {
		for range 3 {
			ref, err := m.Allocate(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			if q, ok := lists[ref.ListID]; ok && q != p {
				t.Fatalf("list %s used for %s and %s", ref.ListID, p, q)
			}
			lists[ref.ListID] = p
		}
	}
	if len(lists) != 3 {
		t.Errorf("%d lists, want 3", len(lists))
	}
	for id, p := range lists {
		if snap, err := m.Snapshot(ctx, id); err != nil || snap.Purpose != p {
			t.Errorf("Snapshot(%s) = %+v, %v; want purpose %s", id, snap, err, p)
		}
	}
}

// TestAllocateAcrossManagers: a second Manager on the same store (another
// process) continues the same list without reusing indexes.
func TestAllocateAcrossManagers(t *testing.T) {
	s := openStore(t, true)
	a, _ := status.NewManager(s, status.Options{})
	b, _ := status.NewManager(s, status.Options{})
	seen := map[status.ListRef]bool{}
	var list string
	for i := range 200 {
		m := a
		if i%2 == 1 {
			m = b
		}
		ref, err := m.Allocate(ctx, status.TokenStatus)
		if err != nil {
			t.Fatal(err)
		}
		if seen[ref] {
			t.Fatalf("%+v twice", ref)
		}
		seen[ref] = true
		if list == "" {
			list = ref.ListID
		} else if ref.ListID != list {
			t.Fatalf("managers use different lists: %s, %s", list, ref.ListID)
		}
	}
}

func TestTokenStatusLifecycle(t *testing.T) {
	m, c := newManager(t, false)
	ref, err := m.Allocate(ctx, status.TokenStatus)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := m.Snapshot(ctx, ref.ListID)
	if err != nil {
		t.Fatal(err)
	}
	created := c.Now()
	if snap.Version != 1 || !snap.Updated.Equal(created) || !snap.Created.Equal(created) || snap.Purpose != status.TokenStatus || snap.Size != status.DefaultSize || snap.Bits != 2 {
		t.Fatalf("new list snapshot = %+v", snap)
	}
	etag := snap.ETag()

	c.advance(time.Minute)
	if err := m.SetStatus(ctx, ref, tokenlist.Suspended); err != nil {
		t.Fatal(err)
	}
	snap, _ = m.Snapshot(ctx, ref.ListID)
	if snap.Version != 2 || !snap.Updated.Equal(created.Add(time.Minute)) || !snap.Created.Equal(created) || snap.ETag() == etag {
		t.Fatalf("after SetStatus: %+v", snap)
	}
	// The snapshot is the encoded list, ready for SignJWT.
	l, err := tokenlist.Decode(snap.Bits, snap.Encoded, snap.Size)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := l.Get(ref.Index); v != tokenlist.Suspended {
		t.Fatalf("snapshot has %d at %d, want SUSPENDED", v, ref.Index)
	}
	if v, err := m.Get(ctx, ref); err != nil || v != tokenlist.Suspended {
		t.Fatalf("Get = %d, %v", v, err)
	}

	// Setting the same value again changes nothing, not even the version.
	c.advance(time.Minute)
	if err := m.SetStatus(ctx, ref, tokenlist.Suspended); err != nil {
		t.Fatal(err)
	}
	if again, _ := m.Snapshot(ctx, ref.ListID); again.Version != 2 {
		t.Fatalf("no-op SetStatus bumped the version to %d", again.Version)
	}

	// Suspension is reversible; revocation is not.
	for _, v := range []uint8{tokenlist.Valid, tokenlist.Invalid} {
		if err := m.SetStatus(ctx, ref, v); err != nil {
			t.Fatal(err)
		}
	}
	for _, v := range []uint8{tokenlist.Valid, tokenlist.Suspended, 3} {
		if err := m.SetStatus(ctx, ref, v); !errors.Is(err, status.ErrIrreversible) {
			t.Errorf("INVALID -> %d: %v, want ErrIrreversible", v, err)
		}
	}
	if err := m.SetStatus(ctx, ref, tokenlist.Invalid); err != nil {
		t.Errorf("INVALID -> INVALID: %v", err)
	}
	if snap, _ := m.Snapshot(ctx, ref.ListID); snap.Version != 4 {
		t.Errorf("version %d, want 4", snap.Version)
	}
}

func TestBitstringLifecycle(t *testing.T) {
	m, _ := newManager(t, false)
	rev, err := m.Allocate(ctx, status.BitstringRevocation)
	if err != nil {
		t.Fatal(err)
	}
	sus, err := m.Allocate(ctx, status.BitstringSuspension)
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range []status.ListRef{rev, sus} {
		if err := m.SetStatus(ctx, ref, 1); err != nil {
			t.Fatal(err)
		}
		snap, _ := m.Snapshot(ctx, ref.ListID)
		l, err := bitstring.Decode(snap.Encoded, bitstring.MinEntries, snap.Size)
		if err != nil {
			t.Fatal(err)
		}
		if set, _ := l.Get(ref.Index); !set || snap.Version != 2 || snap.Bits != 1 {
			t.Fatalf("%+v: bit %v, snapshot %+v", ref, set, snap)
		}
	}
	if err := m.SetStatus(ctx, rev, 0); !errors.Is(err, status.ErrIrreversible) {
		t.Errorf("un-revoke: %v, want ErrIrreversible", err)
	}
	if err := m.SetStatus(ctx, sus, 0); err != nil {
		t.Errorf("reinstate: %v", err)
	}
	if v, _ := m.Get(ctx, sus); v != 0 {
		t.Errorf("reinstated status %d", v)
	}
}

func TestSetStatusErrors(t *testing.T) {
	m, _ := newManager(t, true)
	tok, _ := m.Allocate(ctx, status.TokenStatus)
	bit, _ := m.Allocate(ctx, status.BitstringSuspension)
	unallocated := status.ListRef{ListID: tok.ListID, Index: (tok.Index + 1) % status.DefaultSize}
	for name, tt := range map[string]struct {
		ref   status.ListRef
		value uint8
		want  error
	}{
		"token value 4":     {tok, 4, status.ErrValue},
		"bitstring value 2": {bit, 2, status.ErrValue},
		"negative index":    {status.ListRef{ListID: tok.ListID, Index: -1}, 1, status.ErrRange},
		"index past end":    {status.ListRef{ListID: tok.ListID, Index: status.DefaultSize}, 1, status.ErrRange},
		"not allocated":     {unallocated, 1, status.ErrNotAllocated},
		"unknown list":      {status.ListRef{ListID: "0123456789abcdef0123456789abcdef", Index: 1}, 1, status.ErrUnknownList},
		"malformed list id": {status.ListRef{ListID: "../../kv", Index: 1}, 1, status.ErrUnknownList},
		"empty list id":     {status.ListRef{}, 1, status.ErrUnknownList},
	} {
		if err := m.SetStatus(ctx, tt.ref, tt.value); !errors.Is(err, tt.want) {
			t.Errorf("%s: SetStatus = %v, want %v", name, err, tt.want)
		}
	}
	if _, err := m.Get(ctx, status.ListRef{ListID: tok.ListID, Index: status.DefaultSize}); !errors.Is(err, status.ErrRange) {
		t.Errorf("Get past the end: %v", err)
	}
	if _, err := m.Snapshot(ctx, "nope"); !errors.Is(err, status.ErrUnknownList) {
		t.Errorf("Snapshot(nope): %v", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := m.Allocate(cancelled, status.TokenStatus); !errors.Is(err, context.Canceled) {
		t.Errorf("Allocate with a cancelled context: %v", err)
	}
}

// TestConcurrentSetStatus: concurrent changes to one list are all kept.
func TestConcurrentSetStatus(t *testing.T) {
	m, _ := newManager(t, true)
	var refs []status.ListRef
	for range 40 {
		ref, err := m.Allocate(ctx, status.TokenStatus)
		if err != nil {
			t.Fatal(err)
		}
		refs = append(refs, ref)
	}
	var wg sync.WaitGroup
	for i, ref := range refs {
		wg.Go(func() {
			v := tokenlist.Invalid
			if i%2 == 0 {
				v = tokenlist.Suspended
			}
			if err := m.SetStatus(ctx, ref, v); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	snap, _ := m.Snapshot(ctx, refs[0].ListID)
	if snap.Version != 41 {
		t.Errorf("version %d, want 41", snap.Version)
	}
	l, err := tokenlist.Decode(2, snap.Encoded, snap.Size)
	if err != nil {
		t.Fatal(err)
	}
	for i, ref := range refs {
		want := tokenlist.Invalid
		if i%2 == 0 {
			want = tokenlist.Suspended
		}
		if v, _ := l.Get(ref.Index); v != want {
			t.Errorf("%+v: %d, want %d", ref, v, want)
		}
	}
}

func BenchmarkAllocate(b *testing.B) {
	m, err := status.NewManager(openStore(b, true), status.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Allocate(ctx, status.TokenStatus); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSetStatus(b *testing.B) {
	m, err := status.NewManager(openStore(b, true), status.Options{})
	if err != nil {
		b.Fatal(err)
	}
	var refs []status.ListRef
	for range 1000 {
		ref, _ := m.Allocate(ctx, status.TokenStatus)
		refs = append(refs, ref)
	}
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		ref := refs[i%len(refs)]
		v := tokenlist.Suspended
		if i/len(refs)%2 == 1 {
			v = tokenlist.Valid
		}
		if err := m.SetStatus(ctx, ref, v); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// TestAllocateN: positions handed out together are distinct, in one page,
// never handed out again, and usable; n is bounded.
func TestAllocateN(t *testing.T) {
	m, _ := newManager(t, true)
	ctx := context.Background()
	for _, n := range []int{0, -1, status.MaxAllocateN + 1} {
		if _, err := m.AllocateN(ctx, status.BitstringRevocation, n); err == nil {
			t.Errorf("AllocateN(%d) succeeded", n)
		}
	}
	seen := map[status.ListRef]bool{}
	for range 20 {
		refs, err := m.AllocateN(ctx, status.BitstringRevocation, 40)
		if err != nil {
			t.Fatal(err)
		}
		if len(refs) == 0 || len(refs) > 40 {
			t.Fatalf("got %d positions", len(refs))
		}
		for _, r := range refs {
			if seen[r] || r.Index/1024 != refs[0].Index/1024 || r.ListID != refs[0].ListID {
				t.Fatalf("position %v repeated or outside the batch's page (%v)", r, refs[0])
			}
			seen[r] = true
		}
		one, err := m.Allocate(ctx, status.BitstringRevocation)
		if err != nil || seen[one] {
			t.Fatalf("Allocate after AllocateN: %v %v", one, err)
		}
		seen[one] = true
		if err := m.SetStatus(ctx, refs[len(refs)-1], 1); err != nil {
			t.Fatalf("SetStatus on a batch position: %v", err)
		}
	}
}
