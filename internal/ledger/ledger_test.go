package ledger_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medid/medid/internal/ledger"
	"golang.org/x/mod/sumdb/note"
)

const testOrigin = "medid.example/ledger"

// testKey returns a deterministic Ed25519 key for name.
func testKey(name string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("medid ledger test key " + name))
	return ed25519.NewKeyFromSeed(seed[:])
}

// openLog opens a log in dir signed by testKey("a"), closing it at cleanup.
func openLog(t testing.TB, dir string, mods ...func(*ledger.Config)) *ledger.Log {
	t.Helper()
	cfg := ledger.Config{Dir: dir, Signer: testKey("a"), Origin: testOrigin}
	for _, m := range mods {
		m(&cfg)
	}
	l, err := ledger.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	t.Cleanup(func() {
		if err := l.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return l
}

// entryData is the deterministic payload of the i-th test entry.
func entryData(i int) []byte { return fmt.Appendf(nil, `{"op":"create","did":"did:medid:%06d"}`, i) }

// appendN appends n entries from workers goroutines and returns index → data
// and index → acknowledgement time.
func appendN(t testing.TB, l *ledger.Log, n, workers int) (map[uint64][]byte, map[uint64]time.Time) {
	t.Helper()
	var (
		mu    sync.Mutex
		data  = make(map[uint64][]byte, n)
		acks  = make(map[uint64]time.Time, n)
		wg    sync.WaitGroup
		next  = make(chan int)
		errCh = make(chan error, workers)
	)
	for range workers {
		wg.Go(func() {
			for i := range next {
				d := entryData(i)
				idx, err := l.Append(context.Background(), d)
				if err != nil {
					errCh <- err
					return
				}
				now := time.Now()
				mu.Lock()
				if _, dup := data[idx]; dup {
					errCh <- fmt.Errorf("index %d assigned twice", idx)
				}
				data[idx], acks[idx] = d, now
				mu.Unlock()
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errCh)
	for err := range errCh {
		t.Fatal(err)
	}
	return data, acks
}

func TestAppendConcurrentProofsAndReplay(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := openLog(t, t.TempDir())

	const n, workers = 2000, 64
	start := time.Now()
	data, acks := appendN(t, l, 1000, workers)
	older, err := l.AwaitCheckpoint(ctx, 999)
	if err != nil {
		t.Fatal(err)
	}
	more, moreAcks := appendN(t, l, n-1000, workers)
	for i, d := range more {
		data[i], acks[i] = d, moreAcks[i]
	}
	t.Logf("%d appends from %d goroutines in %v", n, workers, time.Since(start))

	for i := range uint64(n) {
		if _, ok := data[i]; !ok {
			t.Fatalf("index %d never assigned; indexes are not dense", i)
		}
	}
	last := uint64(n - 1)
	waitCtx, cancel := context.WithDeadline(ctx, acks[last].Add(2*time.Second))
	defer cancel()
	cp, err := l.AwaitCheckpoint(waitCtx, last)
	if err != nil {
		t.Fatalf("no checkpoint covering index %d within 2s of its ack: %v", last, err)
	}
	t.Logf("checkpoint covering %d published %v after its ack", last, time.Since(acks[last]))
	if cp.Size != n {
		t.Errorf("checkpoint size %d, want %d", cp.Size, n)
	}
	if got, err := l.IntegratedSize(ctx); err != nil || got != n {
		t.Errorf("IntegratedSize = %d, %v; want %d", got, err, n)
	}

	// Inclusion proofs at the latest and at an older published size.
	for _, c := range []ledger.Checkpoint{cp, older} {
		for range 50 {
			i := rand.Uint64N(c.Size)
			p, err := l.InclusionProof(ctx, i, c.Size)
			if err != nil {
				t.Fatalf("InclusionProof(%d, %d): %v", i, c.Size, err)
			}
			if err := ledger.VerifyInclusion(data[i], i, p, c); err != nil {
				t.Fatalf("VerifyInclusion(%d, size %d): %v", i, c.Size, err)
			}
			if err := ledger.VerifyInclusion(append(bytes.Clone(data[i]), 'x'), i, p, c); !errors.Is(err, ledger.ErrInclusionProof) {
				t.Fatalf("VerifyInclusion of wrong data = %v, want ErrInclusionProof", err)
			}
			// Mutating the returned proof must not poison the cache.
			if len(p) > 0 {
				p[0][0] ^= 1
			}
			p2, err := l.InclusionProof(ctx, i, c.Size)
			if err != nil || ledger.VerifyInclusion(data[i], i, p2, c) != nil {
				t.Fatalf("cached proof for %d was changed through a returned slice", i)
			}
		}
	}
	if _, err := l.InclusionProof(ctx, 5, cp.Size+1); !errors.Is(err, ledger.ErrInvalidRange) {
		t.Errorf("InclusionProof beyond checkpoint = %v, want ErrInvalidRange", err)
	}
	if _, err := l.InclusionProof(ctx, 7, 7); !errors.Is(err, ledger.ErrInvalidRange) {
		t.Errorf("InclusionProof(7, 7) = %v, want ErrInvalidRange", err)
	}

	// Replaying the log yields exactly the appended entries in order.
	var want uint64
	for e, err := range l.Entries(ctx, 0, math.MaxUint64) {
		if err != nil {
			t.Fatalf("Entries: %v", err)
		}
		if e.Index != want || !bytes.Equal(e.Data, data[e.Index]) {
			t.Fatalf("Entries yielded %d %q, want %d %q", e.Index, e.Data, want, data[want])
		}
		want++
	}
	if want != n {
		t.Fatalf("Entries yielded %d entries, want %d", want, n)
	}
	// A sub-range that starts and ends inside bundles.
	want = 300
	for e, err := range l.Entries(ctx, 300, 777) {
		if err != nil || e.Index != want || !bytes.Equal(e.Data, data[e.Index]) {
			t.Fatalf("Entries(300, 777) at %d: %v", want, err)
		}
		want++
	}
	if want != 777 {
		t.Fatalf("Entries(300, 777) stopped at %d", want)
	}
	// Stopping early is fine.
	for range l.Entries(ctx, 0, n) {
		break
	}
	if st := l.Stats(); st.Appended != n || st.ProofCacheHits == 0 || st.ProofCacheMisses == 0 {
		t.Errorf("Stats = %+v", st)
	}
}

// TestCheckpointLatencyIdle measures ack-to-checkpoint latency for entries
// appended to an idle log at random moments, the publisher's worst case.
func TestCheckpointLatencyIdle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := openLog(t, t.TempDir())
	var worst time.Duration
	for i := range 6 {
		time.Sleep(time.Duration(rand.IntN(700)) * time.Millisecond)
		idx, err := l.Append(ctx, entryData(i))
		if err != nil {
			t.Fatal(err)
		}
		ack := time.Now()
		wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		cp, err := l.AwaitCheckpoint(wctx, idx)
		cancel()
		if err != nil {
			t.Fatalf("entry %d: no covering checkpoint within 2s of ack: %v", idx, err)
		}
		worst = max(worst, time.Since(ack))
		if cp.Size <= idx {
			t.Fatalf("AwaitCheckpoint(%d) returned size %d", idx, cp.Size)
		}
	}
	t.Logf("worst ack-to-checkpoint latency on an idle log: %v", worst)
}

func TestLockAndReopen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "ledger")
	cfg := ledger.Config{Dir: dir, Signer: testKey("a"), Origin: testOrigin, CheckpointInterval: 100 * time.Millisecond}
	l, err := ledger.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("log directory mode = %v, %v; want 0700", fi.Mode().Perm(), err)
	}
	for i := range 10 {
		if _, err := l.Append(ctx, entryData(i)); err != nil {
			t.Fatal(err)
		}
	}

	start := time.Now()
	_, err = ledger.Open(ctx, cfg)
	if !errors.Is(err, ledger.ErrLocked) || !strings.Contains(err.Error(), filepath.Join(dir, ".medid.lock")) {
		t.Fatalf("second Open = %v, want ErrLocked naming the lock file", err)
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("second Open took %v, want it to fail at once", d)
	}
	if err := lockFromChild(t, dir); !strings.Contains(err, "ErrLocked") {
		t.Errorf("Open from another process: %s, want ErrLocked", err)
	}

	if err := l.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := l.Close(ctx); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := l.Append(ctx, []byte("late")); !errors.Is(err, ledger.ErrClosed) {
		t.Fatalf("Append after Close = %v, want ErrClosed", err)
	}

	other := cfg
	other.Signer = testKey("b")
	if _, err := ledger.Open(ctx, other); !errors.Is(err, ledger.ErrKeyMismatch) {
		t.Fatalf("Open with another key = %v, want ErrKeyMismatch", err)
	}

	l2, err := ledger.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer l2.Close(ctx)
	if n, err := l2.IntegratedSize(ctx); err != nil || n != 10 {
		t.Fatalf("reopened IntegratedSize = %d, %v; want 10", n, err)
	}
	cp, err := l2.Checkpoint(ctx)
	if err != nil || cp.Size != 10 {
		t.Fatalf("reopened Checkpoint = %d, %v; want 10", cp.Size, err)
	}
	idx, err := l2.Append(ctx, entryData(10))
	if err != nil || idx != 10 {
		t.Fatalf("Append after reopen = %d, %v; want 10", idx, err)
	}
	var got int
	for e, err := range l2.Entries(ctx, 0, math.MaxUint64) {
		if err != nil || !bytes.Equal(e.Data, entryData(int(e.Index))) {
			t.Fatalf("replay after reopen at %d: %v", e.Index, err)
		}
		got++
	}
	if got != 11 {
		t.Fatalf("replayed %d entries, want 11", got)
	}
}

// lockFromChild tries to Open dir from a child process and returns what the
// child reported.
func lockFromChild(t *testing.T, dir string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockChild$")
	cmd.Env = append(os.Environ(), "MEDID_LEDGER_LOCK_CHILD="+dir)
	out, _ := cmd.CombinedOutput()
	return string(out)
}

// TestLockChild is the child half of lockFromChild; it does nothing when run
// normally.
func TestLockChild(t *testing.T) {
	dir := os.Getenv("MEDID_LEDGER_LOCK_CHILD")
	if dir == "" {
		t.Skip("only runs as a child of TestLockAndReopen")
	}
	_, err := ledger.Open(context.Background(), ledger.Config{Dir: dir, Signer: testKey("a"), Origin: testOrigin})
	if errors.Is(err, ledger.ErrLocked) {
		fmt.Println("ErrLocked")
		return
	}
	fmt.Println("unexpected:", err)
}

func TestCloseCoversAcknowledged(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("single entry", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		l, err := ledger.Open(ctx, ledger.Config{Dir: dir, Signer: testKey("a"), Origin: testOrigin})
		if err != nil {
			t.Fatal(err)
		}
		idx, err := l.Append(ctx, []byte("only"))
		if err != nil || idx != 0 {
			t.Fatalf("Append = %d, %v", idx, err)
		}
		start := time.Now()
		if err := l.Close(ctx); err != nil { // no deadline: Close bounds itself
			t.Fatalf("Close: %v", err)
		}
		t.Logf("Close took %v", time.Since(start))
		if cp := publishedCheckpoint(t, dir, l.VerifierKey()); cp.Size != 1 {
			t.Fatalf("final checkpoint size %d, want 1", cp.Size)
		}
	})

	t.Run("live appenders", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		l, err := ledger.Open(ctx, ledger.Config{Dir: dir, Signer: testKey("a"), Origin: testOrigin})
		if err != nil {
			t.Fatal(err)
		}
		var (
			mu     sync.Mutex
			maxAck uint64
			acked  int
			wg     sync.WaitGroup
		)
		for w := range 16 {
			wg.Go(func() {
				for i := 0; ; i++ {
					idx, err := l.Append(ctx, entryData(w*100000+i))
					if errors.Is(err, ledger.ErrClosed) {
						return
					}
					if err != nil {
						t.Errorf("Append: %v", err)
						return
					}
					mu.Lock()
					maxAck, acked = max(maxAck, idx), acked+1
					mu.Unlock()
				}
			})
		}
		time.Sleep(300 * time.Millisecond)
		cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		start := time.Now()
		if err := l.Close(cctx); err != nil {
			t.Fatalf("Close with live appenders: %v", err)
		}
		t.Logf("Close with 16 live appenders took %v", time.Since(start))
		wg.Wait()
		cp := publishedCheckpoint(t, dir, l.VerifierKey())
		if acked == 0 || cp.Size <= maxAck {
			t.Fatalf("final checkpoint size %d does not cover acknowledged index %d (%d acks)", cp.Size, maxAck, acked)
		}
		if _, err := l.Append(ctx, []byte("late")); !errors.Is(err, ledger.ErrClosed) {
			t.Fatalf("Append after Close = %v, want ErrClosed", err)
		}
	})
}

// publishedCheckpoint reads and verifies the checkpoint file in dir.
func publishedCheckpoint(t *testing.T, dir, vkey string) ledger.Checkpoint {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "checkpoint"))
	if err != nil {
		t.Fatal(err)
	}
	cp, err := ledger.VerifyCheckpoint(raw, vkey)
	if err != nil {
		t.Fatal(err)
	}
	return cp
}

func TestAppendLimits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := openLog(t, t.TempDir(), func(c *ledger.Config) { c.MaxOutstanding = 1; c.BatchMaxAge = 200 * time.Millisecond })
	if _, err := l.Append(ctx, make([]byte, ledger.MaxEntrySize+1)); !errors.Is(err, ledger.ErrEntryTooLarge) {
		t.Errorf("oversized Append = %v, want ErrEntryTooLarge", err)
	}
	first := make(chan error, 1)
	go func() { _, err := l.Append(ctx, []byte("first")); first <- err }()
	time.Sleep(50 * time.Millisecond) // the first append now waits for its batch
	if _, err := l.Append(ctx, []byte("second")); !errors.Is(err, ledger.ErrPushback) {
		t.Errorf("Append beyond MaxOutstanding = %v, want ErrPushback", err)
	}
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if st := l.Stats(); st.Pushbacks != 1 {
		t.Errorf("Stats.Pushbacks = %d, want 1", st.Pushbacks)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := l.Append(cctx, []byte("x")); !errors.Is(err, context.Canceled) {
		t.Errorf("Append with cancelled ctx = %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	good := ledger.Config{Dir: "x", Signer: testKey("a"), Origin: testOrigin}
	if err := good.Validate(); err != nil {
		t.Fatalf("Validate(good) = %v", err)
	}
	for name, mod := range map[string]func(*ledger.Config){
		"no dir":       func(c *ledger.Config) { c.Dir = "" },
		"no signer":    func(c *ledger.Config) { c.Signer = nil },
		"origin space": func(c *ledger.Config) { c.Origin = "medid example" },
		"origin plus":  func(c *ledger.Config) { c.Origin = "a+b" },
		"slow cps":     func(c *ledger.Config) { c.CheckpointInterval = 2 * time.Second },
		"too fast cps": func(c *ledger.Config) { c.CheckpointInterval = time.Millisecond },
		"negative age": func(c *ledger.Config) { c.BatchMaxAge = -1 },
		"very old age": func(c *ledger.Config) { c.BatchMaxAge = time.Minute },
	} {
		c := good
		mod(&c)
		if err := c.Validate(); !errors.Is(err, ledger.ErrInvalidConfig) {
			t.Errorf("%s: Validate = %v, want ErrInvalidConfig", name, err)
		}
	}
	s := fmt.Sprintf("%v %+v %#v", good, good, good)
	if strings.Contains(s, fmt.Sprint([]byte(testKey("a")))) || !strings.Contains(s, "redacted") {
		t.Errorf("Config printing leaks the key or lacks redaction: %s", s)
	}
}

func TestNoteSignerMatchesVerifier(t *testing.T) {
	k := testKey("a")
	s, err := ledger.NewNoteSigner(testOrigin, k)
	if err != nil {
		t.Fatal(err)
	}
	vkey, err := ledger.VerifierKey(testOrigin, k.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	// Key hash per C2SP signed-note: SHA-256(name || 0x0A || 0x01 || pub)[:4].
	h := sha256.Sum256(append(append([]byte(testOrigin+"\n"), 0x01), k.Public().(ed25519.PublicKey)...))
	if want := fmt.Sprintf("%s+%x+", testOrigin, h[:4]); !strings.HasPrefix(vkey, want) {
		t.Fatalf("VerifierKey = %s, want prefix %s", vkey, want)
	}
	if got := fmt.Sprintf("%08x", s.KeyHash()); got != fmt.Sprintf("%x", h[:4]) {
		t.Fatalf("signer KeyHash = %s", got)
	}
	signed, err := note.Sign(&note.Note{Text: "hello\n"}, s)
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := note.Open(signed, note.VerifierList(v)); err != nil {
		t.Fatalf("note signed by NewNoteSigner does not open with VerifierKey: %v", err)
	}
	if _, err := ledger.NewNoteSigner("bad origin", k); !errors.Is(err, ledger.ErrInvalidOrigin) {
		t.Errorf("NewNoteSigner(bad origin) = %v", err)
	}
}

func TestInclusionProofDetectsDamagedTile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	l := openLog(t, dir)
	appendN(t, l, 300, 16)
	cp, err := l.AwaitCheckpoint(ctx, 299)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "tile/0/000"))
	if err != nil {
		t.Fatal(err)
	}
	b[5*32] ^= 1
	if err := os.WriteFile(filepath.Join(dir, "tile/0/000"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, i := range []uint64{4, 5} {
		if _, err := l.InclusionProof(ctx, i, cp.Size); !errors.Is(err, ledger.ErrInclusionProof) {
			t.Errorf("InclusionProof(%d) over a damaged tile = %v, want ErrInclusionProof", i, err)
		}
	}
	if _, err := l.InclusionProof(ctx, 299, cp.Size); err != nil {
		t.Errorf("InclusionProof(299) not touching the damaged tile: %v", err)
	}
}

// TestAppendAll: one call appends many entries, in order, alongside lone
// appends from other goroutines; every entry lands at the index it was
// given, and the tree stays dense.
func TestAppendAll(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := openLog(t, t.TempDir())

	const lone, workers, batch = 400, 32, 300
	data := make([][]byte, batch)
	for i := range data {
		data[i] = fmt.Appendf(nil, `{"op":"batch","n":%d}`, i)
	}
	var idx []uint64
	var err error
	done := make(chan struct{})
	go func() {
		defer close(done)
		time.Sleep(5 * time.Millisecond) // among the lone appends
		idx, err = l.AppendAll(ctx, data)
	}()
	loneData, _ := appendN(t, l, lone, workers)
	<-done
	if err != nil {
		t.Fatal(err)
	}
	if len(idx) != batch {
		t.Fatalf("AppendAll returned %d indexes for %d entries", len(idx), batch)
	}
	want := maps.Clone(loneData)
	for i, x := range idx {
		if i > 0 && x <= idx[i-1] {
			t.Fatalf("AppendAll indexes out of order: %d after %d", x, idx[i-1])
		}
		if _, dup := want[x]; dup {
			t.Fatalf("index %d given to a batch entry and a lone append", x)
		}
		want[x] = data[i]
	}
	last := uint64(lone + batch - 1)
	if _, err := l.AwaitCheckpoint(ctx, last); err != nil {
		t.Fatal(err)
	}
	n := uint64(0)
	for e, err := range l.Entries(ctx, 0, last+1) {
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(e.Data, want[e.Index]) {
			t.Fatalf("entry %d holds %q, want %q", e.Index, e.Data, want[e.Index])
		}
		n++
	}
	if n != last+1 {
		t.Fatalf("%d entries read, want %d", n, last+1)
	}

	if idx, err := l.AppendAll(ctx, nil); err != nil || idx != nil {
		t.Errorf("AppendAll(nil) = %v, %v", idx, err)
	}
	if _, err := l.AppendAll(ctx, [][]byte{[]byte("ok"), make([]byte, ledger.MaxEntrySize+1)}); !errors.Is(err, ledger.ErrEntryTooLarge) {
		t.Errorf("AppendAll with an oversized entry = %v, want ErrEntryTooLarge", err)
	}
	size, err := l.IntegratedSize(ctx)
	if err != nil || size != last+1 {
		t.Errorf("after the refused AppendAll the tree holds %d entries (%v), want %d: nothing of it may be appended", size, err, last+1)
	}
	small := openLog(t, t.TempDir(), func(c *ledger.Config) { c.MaxOutstanding = 10 })
	if _, err := small.AppendAll(ctx, data[:11]); !errors.Is(err, ledger.ErrPushback) {
		t.Errorf("AppendAll beyond MaxOutstanding = %v, want ErrPushback", err)
	}
	if _, err := small.AppendAll(ctx, data[:10]); err != nil {
		t.Errorf("AppendAll of MaxOutstanding entries: %v", err)
	}
	if err := small.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := small.AppendAll(ctx, data[:1]); !errors.Is(err, ledger.ErrClosed) {
		t.Errorf("AppendAll after Close = %v, want ErrClosed", err)
	}
}
