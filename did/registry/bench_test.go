package registry

import (
	"bytes"
	"context"
	"fmt"
	mrand "math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"k8s.io/klog/v2"

	"github.com/medid/medid/did"
)

// The benchmarks below back the figures in docs/benchmarks.md; each reports
// a baseline measured in the same run so a ratio can be read on a noisy
// machine. They run only with -bench:
//
//	go test ./did/registry -run '^$' -bench 'ResolveWithProof|Submit' -count 6

// quietTessera routes tessera's klog output to the discarding logger, so
// it does not interleave with benchmark result lines (which benchstat
// would then not parse).
func quietTessera() { klog.SetSlogLogger(quietLogger()) }

// benchDIDs is how many DIDs the resolution benchmark's registry holds;
// every benchUpdateEvery-th of them also has a second version.
const (
	benchDIDs        = 1000
	benchUpdateEvery = 4
)

// benchDID is one DID of the resolution benchmark's registry.
type benchDID struct {
	d       did.DID
	created time.Time // time of version 1
	updated bool      // has a version 2
}

// populate creates n DIDs in f (updating every benchUpdateEvery-th), waits
// for a checkpoint covering all of them and returns them. Keys are made and
// operations signed up front, on the benchmark goroutine.
func populate(b *testing.B, f *fixture, n int) []benchDID {
	b.Helper()
	ctx := context.Background()
	creates := make([]*SignedOp, n)
	var updates []*SignedOp
	for i := range n {
		a := newActor(b)
		creates[i] = sign(b, a.createOp(), a.update)
		if i%benchUpdateEvery == 0 {
			d, err := DIDFromCreate(&creates[i].Op)
			if err != nil {
				b.Fatal(err)
			}
			prev, err := creates[i].Op.Hash()
			if err != nil {
				b.Fatal(err)
			}
			up := &Operation{Type: OpUpdate, DID: d.String(), Prev: prev, Document: docWith(b, gen(b, "EdDSA"))}
			updates = append(updates, sign(b, up, a.update))
		}
	}
	out := make([]benchDID, n)
	byDID := make(map[string]int, n)
	var last atomic.Uint64
	note := func(i uint64) {
		for cur := last.Load(); i > cur && !last.CompareAndSwap(cur, i); cur = last.Load() {
		}
	}
	parallelDo(b, n, 64, func(i int) error {
		res, err := f.reg.Submit(ctx, creates[i])
		if err != nil {
			return err
		}
		out[i] = benchDID{d: res.DID, created: res.Version.Time}
		note(res.LogIndex)
		return nil
	})
	for i, d := range out {
		byDID[d.d.String()] = i
	}
	parallelDo(b, len(updates), 64, func(i int) error {
		res, err := f.reg.Submit(ctx, updates[i])
		if err != nil {
			return err
		}
		out[byDID[res.DID.String()]].updated = true
		note(res.LogIndex)
		return nil
	})
	actx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := f.log.AwaitCheckpoint(actx, last.Load()); err != nil {
		b.Fatal(err)
	}
	return out
}

// parallelDo runs fn(0..n-1) on workers goroutines and fails b on the first
// error.
func parallelDo(b *testing.B, n, workers int, fn func(i int) error) {
	b.Helper()
	var (
		next  atomic.Int64
		wg    sync.WaitGroup
		first atomic.Pointer[error]
	)
	for range workers {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n && first.Load() == nil; i = int(next.Add(1) - 1) {
				if err := fn(i); err != nil {
					first.CompareAndSwap(nil, &err)
				}
			}
		})
	}
	wg.Wait()
	if e := first.Load(); e != nil {
		b.Fatal(*e)
	}
}

// checkProof fails b unless res carries a complete ledger proof: entry,
// inclusion proof and the checkpoint it is against.
func checkProof(b *testing.B, res *did.Result) {
	p := res.DocumentMetadata.LedgerProof
	if p == nil || p.Checkpoint == "" || p.TreeSize <= p.LogIndex || p.Entry == "" {
		b.Fatalf("incomplete ledger proof: %+v", p)
	}
}

// cpuTime returns the process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportThroughput reports ops/s and the process CPU time per operation
// (cpu-µs/op) since cpu0. The CPU figure is less sensitive than ops/s to
// other load on a shared machine; GOMAXPROCS / cpu-µs/op bounds the rate a
// CPU-bound run could reach.
func reportThroughput(b *testing.B, cpu0 time.Duration) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
}

// latencies records per-operation wall times to report quantiles: the
// house rule is medians, and ns/op is a mean.
type latencies []time.Duration

func (l latencies) report(b *testing.B) {
	if len(l) == 0 {
		return
	}
	slices.Sort(l)
	q := func(p float64) float64 { return float64(l[int(p*float64(len(l)-1))].Nanoseconds()) / 1e3 }
	b.ReportMetric(q(0.50), "p50-µs")
	b.ReportMetric(q(0.99), "p99-µs")
}

// BenchmarkResolveWithProof resolves random did:medid DIDs of a 1,000-DID
// registry, with the ledger proof (checkpoint + inclusion proof) against a
// checkpoint that covers them. baseline-kv-get is one bbolt Get of a state
// record, the floor under any resolution. Target: median under 200 µs.
func BenchmarkResolveWithProof(b *testing.B) {
	ctx := context.Background()
	quietTessera()
	f := newFixture(b)
	dids := populate(b, f, benchDIDs)
	rng := mrand.New(mrand.NewPCG(1, 2))
	order := rng.Perm(len(dids))
	var hist []int // DIDs with two versions
	for i, d := range dids {
		if d.updated {
			hist = append(hist, i)
		}
	}
	rng.Shuffle(len(hist), func(i, j int) { hist[i], hist[j] = hist[j], hist[i] })

	// Every DID resolves, with a complete proof, before anything is timed;
	// this also warms the proof cache as a serving process would be.
	for _, d := range dids {
		res, err := f.reg.Resolve(ctx, d.d, did.ResolutionOptions{})
		if err != nil {
			b.Fatal(err)
		}
		checkProof(b, res)
		if want := strconv.Itoa(1 + btoi(d.updated)); res.DocumentMetadata.VersionID != want {
			b.Fatalf("%s: version %s, want %s", d.d, res.DocumentMetadata.VersionID, want)
		}
	}

	b.Run("baseline-kv-get", func(b *testing.B) {
		var lat latencies
		for n := 0; b.Loop(); n++ {
			t := time.Now()
			if _, err := f.store.Get(ctx, statePrefix+dids[order[n%len(order)]].d.String()); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(t))
		}
		lat.report(b)
	})
	b.Run("latest", func(b *testing.B) {
		b.ReportAllocs()
		var lat latencies
		for n := 0; b.Loop(); n++ {
			t := time.Now()
			res, err := f.reg.Resolve(ctx, dids[order[n%len(order)]].d, did.ResolutionOptions{})
			lat = append(lat, time.Since(t))
			if err != nil {
				b.Fatal(err)
			}
			checkProof(b, res)
		}
		lat.report(b)
	})
	b.Run("versionTime", func(b *testing.B) {
		b.ReportAllocs()
		var lat latencies
		for n := 0; b.Loop(); n++ {
			d := dids[hist[n%len(hist)]]
			t := time.Now()
			res, err := f.reg.Resolve(ctx, d.d, did.ResolutionOptions{VersionTime: d.created})
			lat = append(lat, time.Since(t))
			if err != nil {
				b.Fatal(err)
			}
			if res.DocumentMetadata.VersionID != "1" || res.DocumentMetadata.NextVersionID != "2" {
				b.Fatalf("versionTime: %+v", res.DocumentMetadata)
			}
			checkProof(b, res)
		}
		lat.report(b)
	})
	// Throughput on all CPUs: the in-process ceiling for the HTTP figure.
	b.Run("latest-parallel", func(b *testing.B) {
		var seq atomic.Uint64
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				n := seq.Add(1)
				res, err := f.reg.Resolve(ctx, dids[order[n%uint64(len(order))]].d, did.ResolutionOptions{})
				if err != nil {
					b.Error(err)
					return
				}
				if res.DocumentMetadata.LedgerProof == nil || res.DocumentMetadata.LedgerProof.Checkpoint == "" {
					b.Error("incomplete ledger proof")
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "resolutions/s")
	})
}

func btoi(v bool) int {
	if v {
		return 1
	}
	return 0
}

// submitWriters are the concurrent writer counts BenchmarkSubmit tries
// (b.SetParallelism(w / GOMAXPROCS)).
var submitWriters = []int{64, 256}

// BenchmarkSubmit measures registration throughput: pre-signed create
// operations (signing is the client's cost, outside the timer) submitted by
// many concurrent writers, so the ledger batches; Submit checks each
// signature, appends to the ledger and writes the index. raw-tessera-append
// appends entries of the same size straight to the same ledger in the same
// run: the ceiling. Target: 2,000 signature-checked operations/s.
func BenchmarkSubmit(b *testing.B) {
	ctx := context.Background()
	quietTessera()
	f := newFixture(b)
	a := newActor(b)
	var nonce atomic.Uint64
	// sample fixes the entry size the raw appends use.
	sample, err := EncodeEntry(sign(b, withNonce(a.createOp(), "sample"), a.update), t0)
	if err != nil {
		b.Fatal(err)
	}
	raw := rawEntry(len(sample))
	var commitSeq atomic.Uint64 // distinct DIDs across stage-index-commit's rounds

	for _, w := range submitWriters {
		par := max(1, w/runtime.GOMAXPROCS(0))
		b.Run(fmt.Sprintf("registry-submit/writers=%d", w), func(b *testing.B) {
			ops := make([]*SignedOp, b.N)
			parallelDo(b, b.N, runtime.GOMAXPROCS(0), func(i int) (err error) {
				ops[i], err = SignOp(withNonce(a.createOp(), strconv.FormatUint(nonce.Add(1), 10)), a.update)
				return err
			})
			var next atomic.Int64
			b.SetParallelism(par)
			b.ResetTimer()
			cpu0 := cpuTime()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := f.reg.Submit(ctx, ops[next.Add(1)-1]); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			reportThroughput(b, cpu0)
		})
		b.Run(fmt.Sprintf("raw-tessera-append/writers=%d", w), func(b *testing.B) {
			b.SetParallelism(par)
			b.ResetTimer()
			cpu0 := cpuTime()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := f.log.Append(ctx, raw); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			reportThroughput(b, cpu0)
		})
	}
	// The stages of Submit on their own, on all CPUs, to locate the
	// bottleneck: the signature check (Apply, with the entry encoding it
	// needs) and the two index writes.
	b.Run("stage-check-only", func(b *testing.B) {
		ops := make([]*SignedOp, 1024)
		parallelDo(b, len(ops), runtime.GOMAXPROCS(0), func(i int) (err error) {
			ops[i], err = SignOp(withNonce(a.createOp(), "check-"+strconv.Itoa(i)), a.update)
			return err
		})
		var next atomic.Uint64
		b.ResetTimer()
		cpu0 := cpuTime()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				op := ops[next.Add(1)%uint64(len(ops))]
				e, err := EncodeEntry(op, t0)
				if err == nil {
					_, _, err = Apply(nil, op, 0, t0, e)
				}
				if err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.StopTimer()
		reportThroughput(b, cpu0)
	})
	b.Run("stage-index-commit", func(b *testing.B) {
		doc := docWith(b, a.vm)
		b.SetParallelism(max(1, 64/runtime.GOMAXPROCS(0)))
		b.ResetTimer()
		cpu0 := cpuTime()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				n := commitSeq.Add(1)
				st := &State{DID: fmt.Sprintf("did:medid:bench%047d", n), Version: 1, OpHash: "h", Created: t0, Updated: t0}
				v := &Version{Version: 1, Index: n, Time: t0, OpHash: "h", Type: OpCreate, Document: doc, Entry: sample}
				if err := f.reg.idx.commit(ctx, st, v, nil); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.StopTimer()
		reportThroughput(b, cpu0)
	})
}

func withNonce(op *Operation, n string) *Operation {
	op.Nonce = n
	return op
}

// rawEntry is an n-byte JSON entry of a type the registry ignores.
func rawEntry(n int) []byte {
	head := []byte(`{"type":"bench/raw","pad":"`)
	tail := []byte(`"}`)
	pad := max(0, n-len(head)-len(tail))
	return slices.Concat(head, bytes.Repeat([]byte{'x'}, pad), tail)
}
