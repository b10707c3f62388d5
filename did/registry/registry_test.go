package registry

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/medid/medid/did"
	"github.com/medid/medid/internal/kv"
	"github.com/medid/medid/internal/kv/boltkv"
	"github.com/medid/medid/internal/ledger"
)

type fixture struct {
	reg   *Registry
	log   *ledger.Log
	store kv.Store
	clock *fakeClock
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	dir := t.TempDir()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	l, err := ledger.Open(ctx, ledger.Config{Dir: filepath.Join(dir, "ledger"), Signer: priv, Origin: "test.example/ledger"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = l.Close(cctx)
	})
	s, err := boltkv.OpenWith(filepath.Join(dir, "index.db"), boltkv.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	clock := &fakeClock{t: t0}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	return &fixture{reg: New(l, s, Options{Now: clock.Now, Logger: quiet}), log: l, store: s, clock: clock}
}

func (f *fixture) submit(t testing.TB, op *SignedOp) *Result {
	t.Helper()
	res, err := f.reg.Submit(context.Background(), op)
	if err != nil {
		t.Fatalf("submit %s: %v", op.Op.Type, err)
	}
	return res
}

// submitG is submit for goroutines other than the test's: it reports
// failure with Errorf and returns nil.
func (f *fixture) submitG(t testing.TB, op *SignedOp) *Result {
	res, err := f.reg.Submit(context.Background(), op)
	if err != nil {
		t.Errorf("submit %s: %v", op.Op.Type, err)
	}
	return res
}

func TestSubmitResolveAndProve(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a := newActor(t)
	created := f.submit(t, sign(t, a.createOp(), a.update))
	d := created.DID
	rotated := gen(t, "EdDSA")
	up := &Operation{Type: OpUpdate, DID: d.String(), Prev: created.State.OpHash, Document: docWith(t, rotated)}
	updated := f.submit(t, sign(t, up, a.update))

	// A rejected operation is not appended.
	before, _ := f.log.IntegratedSize(ctx)
	bad := &Operation{Type: OpUpdate, DID: d.String(), Prev: updated.State.OpHash, Document: docWith(t, rotated)}
	if _, err := f.reg.Submit(ctx, sign(t, bad, a.recovery)); err == nil {
		t.Fatal("update signed with the wrong key accepted")
	}
	after, _ := f.log.IntegratedSize(ctx)
	if after != before {
		t.Fatalf("log grew from %d to %d on a rejected operation", before, after)
	}

	// Latest version: the rotated key.
	if _, err := f.log.AwaitCheckpoint(ctx, updated.LogIndex); err != nil {
		t.Fatal(err)
	}
	res, err := f.reg.Resolve(ctx, d, did.ResolutionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.DocumentMetadata.VersionID != "2" || res.DocumentMetadata.Updated == nil || !hasKey(t, res.Document, rotated.Public()) {
		t.Fatalf("latest: %+v", res.DocumentMetadata)
	}
	verifyProof(t, f.log, res.DocumentMetadata.LedgerProof, updated.LogIndex)

	// As of the create time: the original key, with a proof of its own entry.
	old, err := f.reg.Resolve(ctx, d, did.ResolutionOptions{VersionTime: created.Version.Time})
	if err != nil {
		t.Fatal(err)
	}
	if old.DocumentMetadata.VersionID != "1" || old.DocumentMetadata.NextVersionID != "2" || !hasKey(t, old.Document, a.vm.Public()) {
		t.Fatalf("historical: %+v", old.DocumentMetadata)
	}
	if nu := old.DocumentMetadata.NextUpdate; nu == nil || !nu.Equal(updated.Version.Time) || res.DocumentMetadata.NextUpdate != nil {
		t.Fatalf("nextUpdate of version 1: %v, want %v (the update's time); of the latest: %v", nu, updated.Version.Time, res.DocumentMetadata.NextUpdate)
	}
	verifyProof(t, f.log, old.DocumentMetadata.LedgerProof, created.LogIndex)
	if v1, err := f.reg.Resolve(ctx, d, did.ResolutionOptions{VersionID: "1"}); err != nil || v1.DocumentMetadata.VersionID != "1" {
		t.Fatalf("versionId=1: %v", err)
	}
	if _, err := f.reg.Resolve(ctx, d, did.ResolutionOptions{VersionTime: t0.Add(-time.Hour)}); !errors.Is(err, did.ErrNotFound) {
		t.Fatalf("before creation: %v", err)
	}
	if _, err := f.reg.Resolve(ctx, d, did.ResolutionOptions{VersionID: "3"}); !errors.Is(err, did.ErrNotFound) {
		t.Fatalf("versionId=3: %v", err)
	}
	if _, err := f.reg.Resolve(ctx, d, did.ResolutionOptions{VersionID: "x"}); !errors.Is(err, did.ErrInvalidOptions) {
		t.Fatalf("versionId=x: %v", err)
	}

	// Deactivation.
	de := &Operation{Type: OpDeactivate, DID: d.String(), Prev: updated.State.OpHash, RecoveryKey: jwkOf(t, a.recovery)}
	f.submit(t, sign(t, de, a.recovery))
	res, err = f.reg.Resolve(ctx, d, did.ResolutionOptions{})
	if err != nil || !res.DocumentMetadata.Deactivated {
		t.Fatalf("deactivated: %v %+v", err, res)
	}
}

func hasKey(t *testing.T, doc *did.Document, pub any) bool {
	t.Helper()
	for _, vm := range doc.VerificationMethod {
		k, err := vm.PublicKey()
		if err == nil && fmt.Sprint(k) == fmt.Sprint(pub) {
			return true
		}
	}
	return false
}

func verifyProof(t *testing.T, l *ledger.Log, p *did.LedgerProof, index uint64) {
	t.Helper()
	if p == nil || p.Checkpoint == "" || p.LogIndex != index {
		t.Fatalf("proof missing or incomplete: %+v", p)
	}
	cp, err := ledger.VerifyCheckpoint([]byte(p.Checkpoint), l.VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	entry, _ := base64.StdEncoding.DecodeString(p.Entry)
	var hashes [][]byte
	for _, h := range p.InclusionProof {
		b, _ := base64.StdEncoding.DecodeString(h)
		hashes = append(hashes, b)
	}
	if err := ledger.VerifyInclusion(entry, p.LogIndex, hashes, cp); err != nil {
		t.Fatalf("inclusion proof: %v", err)
	}
	if base64.StdEncoding.EncodeToString(ledger.LeafHash(entry)) != p.LeafHash {
		t.Fatal("leaf hash does not match entry")
	}
}

// dump returns the derived index (without the cursor) as key → value.
func dump(t *testing.T, s kv.Store) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := s.List(context.Background(), keyPrefix, func(k string, v []byte) error {
		if k != cursorKey {
			m[k] = string(v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestRebuildEqualsLive runs thousands of mixed operations (valid, invalid,
// and invalid ones forced into the log behind the registry's back), then
// rebuilds the index from the log and requires it to equal the live one.
func TestRebuildEqualsLive(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	f := newFixture(t)
	ctx := context.Background()
	rng := mrand.New(mrand.NewPCG(1, 2))
	type owner struct {
		a   *actor
		st  *State
		off bool
	}
	var owners []*owner
	var mu sync.Mutex
	const workers, perWorker = 8, 340
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			local := []*owner{}
			for i := range perWorker {
				switch {
				case len(local) == 0 || i%5 == 0:
					o := &owner{a: newActor(t)}
					op := o.a.createOp()
					op.Nonce = fmt.Sprintf("%d-%d", w, i)
					r := f.submitG(t, sign(t, op, o.a.update))
					if r == nil {
						return
					}
					o.st = r.State
					local = append(local, o)
				default:
					o := local[(i*7+w)%len(local)]
					if o.off {
						continue
					}
					switch i % 11 {
					case 3: // forged update: refused, not appended
						op := &Operation{Type: OpUpdate, DID: o.st.DID, Prev: o.st.OpHash, Document: docWith(t, o.a.vm)}
						if _, err := f.reg.Submit(ctx, sign(t, op, o.a.recovery)); err == nil {
							t.Error("forged update accepted")
						}
					case 7: // deactivate
						op := &Operation{Type: OpDeactivate, DID: o.st.DID, Prev: o.st.OpHash, RecoveryKey: jwkOf(t, o.a.recovery)}
						r := f.submitG(t, sign(t, op, o.a.recovery))
						if r == nil {
							return
						}
						o.st = r.State
						o.off = true
					case 9: // recover
						nu, nr := gen(t, "ES256"), gen(t, "ES256")
						op := &Operation{Type: OpRecover, DID: o.st.DID, Prev: o.st.OpHash, Document: docWith(t, o.a.vm),
							UpdateKey: jwkOf(t, nu), RecoveryCommitment: nr.Thumbprint(), RecoveryKey: jwkOf(t, o.a.recovery)}
						r := f.submitG(t, sign(t, op, o.a.recovery))
						if r == nil {
							return
						}
						o.st = r.State
						o.a.update, o.a.recovery = nu, nr
					default: // update with a new verification key
						o.a.vm = gen(t, "EdDSA")
						op := &Operation{Type: OpUpdate, DID: o.st.DID, Prev: o.st.OpHash, Document: docWith(t, o.a.vm)}
						r := f.submitG(t, sign(t, op, o.a.update))
						if r == nil {
							return
						}
						o.st = r.State
					}
				}
			}
			mu.Lock()
			owners = append(owners, local...)
			mu.Unlock()
		}(w)
	}
	wg.Wait()
	// Invalid entries forced into the log: a stale replay, a forged
	// update and garbage. Replay must ignore all of them.
	o := owners[rng.IntN(len(owners))]
	forged := &Operation{Type: OpUpdate, DID: o.st.DID, Prev: o.st.OpHash, Document: docWith(t, o.a.vm)}
	forgedEntry, _ := EncodeEntry(sign(t, forged, gen(t, "ES256")), f.clock.Now())
	var firstEntry []byte // an operation already applied, appended again
	for e, err := range f.log.Entries(ctx, 0, 1) {
		if err != nil {
			t.Fatal(err)
		}
		firstEntry = e.Data
	}
	for _, e := range [][]byte{forgedEntry, firstEntry} {
		if _, err := f.log.Append(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.log.Append(ctx, []byte(`{"type":"did-medid/op","v":1,"time":"x","op":"y"}`)); err != nil {
		t.Fatal(err)
	}
	live := dump(t, f.store)
	size, _ := f.log.IntegratedSize(ctx)
	if size < 2000 {
		t.Fatalf("only %d log entries", size)
	}
	n, err := f.reg.Rebuild(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rebuilt := dump(t, f.store)
	if len(rebuilt) != len(live) {
		for k, v := range rebuilt {
			if _, ok := live[k]; !ok {
				t.Errorf("only in rebuilt: %s = %.300s", k, v)
			}
		}
		t.Fatalf("rebuilt index has %d keys, live %d", len(rebuilt), len(live))
	}
	for k, v := range live {
		if rebuilt[k] != v {
			t.Fatalf("index differs at %s:\nlive    %s\nrebuilt %s", k, v, rebuilt[k])
		}
	}
	if uint64(n) != size-3 {
		t.Fatalf("applied %d of %d entries; want all but the 3 invalid", n, size)
	}
	t.Logf("%d log entries, %d index keys, rebuilt identically", size, len(live))
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
