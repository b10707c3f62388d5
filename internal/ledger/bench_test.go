package ledger

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"testing"
)

// benchFixture is a log shared by the read benchmarks, so each b.N round
// does not rebuild it.
var benchFixture struct {
	once sync.Once
	dir  string
	log  *Log
	size uint64
	err  error
}

const benchEntries = 4096

func TestMain(m *testing.M) {
	code := m.Run()
	if benchFixture.log != nil {
		_ = benchFixture.log.Close(context.Background())
	}
	if benchFixture.dir != "" {
		_ = os.RemoveAll(benchFixture.dir)
	}
	os.Exit(code)
}

func benchKey() ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("medid ledger bench key"))
	return ed25519.NewKeyFromSeed(seed[:])
}

// sharedLog returns a log of benchEntries entries with a checkpoint
// covering all of them.
func sharedLog(b *testing.B) (*Log, uint64) {
	b.Helper()
	f := &benchFixture
	f.once.Do(func() {
		ctx := context.Background()
		if f.dir, f.err = os.MkdirTemp("", "ledger-bench-"); f.err != nil {
			return
		}
		if f.log, f.err = Open(ctx, Config{Dir: f.dir, Signer: benchKey(), Origin: "medid.example/ledger"}); f.err != nil {
			return
		}
		var wg sync.WaitGroup
		var next atomic.Int64
		for range 64 {
			wg.Go(func() {
				for i := next.Add(1) - 1; i < benchEntries; i = next.Add(1) - 1 {
					if _, err := f.log.Append(ctx, fmt.Appendf(nil, "entry %d", i)); err != nil {
						f.err = err
						return
					}
				}
			})
		}
		wg.Wait()
		if f.err != nil {
			return
		}
		cp, err := f.log.AwaitCheckpoint(ctx, benchEntries-1)
		f.size, f.err = cp.Size, err
	})
	if f.err != nil {
		b.Fatal(f.err)
	}
	return f.log, f.size
}

// BenchmarkAppend measures the append ceiling: many concurrent writers, each
// waiting for its acknowledgement.
func BenchmarkAppend(b *testing.B) {
	ctx := context.Background()
	l, err := Open(ctx, Config{Dir: b.TempDir(), Signer: benchKey(), Origin: "medid.example/ledger"})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close(ctx)
	data := []byte(`{"op":"update","did":"did:medid:0123456789abcdef","doc":"..."}`)
	b.SetParallelism(32) // 32 writers per CPU
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := l.Append(ctx, data); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
}

// BenchmarkInclusionProof measures proofs against the latest checkpoint.
func BenchmarkInclusionProof(b *testing.B) {
	ctx := context.Background()
	l, size := sharedLog(b)
	idx := make([]uint64, 1024)
	for i := range idx {
		idx[i] = rand.Uint64N(size)
	}
	b.Run("cached", func(b *testing.B) {
		for _, i := range idx {
			if _, err := l.InclusionProof(ctx, i, size); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportAllocs()
		b.ResetTimer()
		for n := 0; b.Loop(); n++ {
			if _, err := l.InclusionProof(ctx, idx[n%len(idx)], size); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("proof-miss-tiles-cached", func(b *testing.B) {
		for _, i := range idx {
			if _, err := l.InclusionProof(ctx, i, size); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportAllocs()
		for n := 0; b.Loop(); n++ {
			l.proofs.Purge()
			if _, err := l.InclusionProof(ctx, idx[n%len(idx)], size); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cold", func(b *testing.B) {
		b.ReportAllocs()
		for n := 0; b.Loop(); n++ {
			l.proofs.Purge()
			l.tiles.Purge()
			if _, err := l.InclusionProof(ctx, idx[n%len(idx)], size); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkCheckpoint measures the cached, verified checkpoint read that
// every DID resolution makes.
func BenchmarkCheckpoint(b *testing.B) {
	ctx := context.Background()
	l, _ := sharedLog(b)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := l.Checkpoint(ctx); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkResolveProofPath is the ledger part of resolving a DID with its
// proof: latest checkpoint, inclusion proof (cached), verification. Budget:
// 200 µs median.
func BenchmarkResolveProofPath(b *testing.B) {
	ctx := context.Background()
	l, size := sharedLog(b)
	var all [][]byte
	for e, err := range l.Entries(ctx, 0, size) {
		if err != nil {
			b.Fatal(err)
		}
		all = append(all, e.Data)
	}
	data := make([][]byte, 256)
	idx := make([]uint64, len(data))
	for i := range idx {
		idx[i] = rand.Uint64N(size)
		data[i] = all[idx[i]]
	}
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; b.Loop(); n++ {
		k := n % len(idx)
		cp, err := l.Checkpoint(ctx)
		if err != nil {
			b.Fatal(err)
		}
		p, err := l.InclusionProof(ctx, idx[k], cp.Size)
		if err != nil {
			b.Fatal(err)
		}
		if err := VerifyInclusion(data[k], idx[k], p, cp); err != nil {
			b.Fatal(err)
		}
	}
}
