package audit_test

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/medid/medid/internal/ledger"
	"github.com/medid/medid/internal/ledger/audit"
)

const origin = "medid.example/ledger"

func key(name string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("medid audit test key " + name))
	return ed25519.NewKeyFromSeed(seed[:])
}

// testLog is a ledger in its own directory with n entries "<prefix>-<i>",
// all covered by the published checkpoint.
type testLog struct {
	dir string
	log *ledger.Log
}

func newLog(t *testing.T, signer string, prefix string, n int) *testLog {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	l, err := ledger.Open(ctx, ledger.Config{Dir: dir, Signer: key(signer), Origin: origin})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close(context.Background()) })
	tl := &testLog{dir: dir, log: l}
	tl.add(t, prefix, 0, n)
	return tl
}

// add appends entries [from, to) concurrently and waits for a checkpoint.
func (tl *testLog) add(t *testing.T, prefix string, from, to int) {
	t.Helper()
	ctx := context.Background()
	var wg sync.WaitGroup
	var next atomic.Int64
	next.Store(int64(from))
	for range 32 {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(to); i = next.Add(1) - 1 {
				if _, err := tl.log.Append(ctx, fmt.Appendf(nil, "%s-%d", prefix, i)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if to > 0 {
		if _, err := tl.log.AwaitCheckpoint(ctx, uint64(to-1)); err != nil {
			t.Fatal(err)
		}
	}
}

// server serves whichever handler is current under /ledger/.
type server struct {
	*httptest.Server
	h atomic.Pointer[http.Handler]
}

func newServer(t *testing.T, l *testLog) *server {
	s := &server{}
	s.serve(ledger.Handler(l.log))
	s.Server = httptest.NewServer(http.StripPrefix("/ledger", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		(*s.h.Load()).ServeHTTP(w, r)
	})))
	t.Cleanup(s.Close)
	return s
}

func (s *server) serve(h http.Handler) { s.h.Store(&h) }

func (s *server) opts(stateFile string) audit.Options {
	return audit.Options{BaseURL: s.URL + "/ledger/", HTTPClient: s.Client(), StateFile: stateFile}
}

func TestVerifyGoodLogThenIncremental(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := newLog(t, "a", "e", 600)
	srv := newServer(t, l)
	stateFile := filepath.Join(t.TempDir(), "audit.json")

	opts := srv.opts(stateFile)
	var lastDone, lastTotal uint64
	opts.Progress = func(done, total uint64) { lastDone, lastTotal = done, total }
	rep, err := audit.Verify(ctx, opts)
	if err != nil {
		t.Fatalf("Verify of a good log: %v", err)
	}
	if !rep.Full || !rep.KeyTrustedOnFirstUse || rep.TreeSize != 600 || rep.Entries != 600 || rep.PreviousSize != 0 || rep.VerifierKey != l.log.VerifierKey() {
		t.Fatalf("first report = %+v", rep)
	}
	if lastDone != 600 || lastTotal != 600 {
		t.Errorf("last progress = %d/%d, want 600/600", lastDone, lastTotal)
	}
	if fi, err := os.Stat(stateFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("state file: %v, %v", fi, err)
	}

	l.add(t, "e", 600, 900)
	rep, err = audit.Verify(ctx, srv.opts(stateFile))
	if err != nil {
		t.Fatalf("incremental Verify: %v", err)
	}
	if rep.Full || rep.KeyTrustedOnFirstUse || rep.TreeSize != 900 || rep.Entries != 300 || rep.PreviousSize != 600 {
		t.Fatalf("incremental report = %+v", rep)
	}
	rep, err = audit.Verify(ctx, srv.opts(stateFile))
	if err != nil || rep.Entries != 0 || rep.TreeSize != 900 {
		t.Fatalf("unchanged Verify = %+v, %v", rep, err)
	}
	full := srv.opts(stateFile)
	full.Full = true
	if rep, err = audit.Verify(ctx, full); err != nil || rep.Entries != 900 || !rep.Full {
		t.Fatalf("full Verify with state = %+v, %v", rep, err)
	}
	// An explicit key that matches is fine; one that differs is not.
	explicit := srv.opts(stateFile)
	explicit.VerifierKey = l.log.VerifierKey()
	if _, err := audit.Verify(ctx, explicit); err != nil {
		t.Fatalf("Verify with explicit key: %v", err)
	}
	other, _ := ledger.VerifierKey(origin, key("b").Public().(ed25519.PublicKey))
	explicit.VerifierKey = other
	if _, err := audit.Verify(ctx, explicit); !errors.Is(err, audit.ErrKeyMismatch) {
		t.Fatalf("Verify with another explicit key = %v, want ErrKeyMismatch", err)
	}
}

// flipEntryByte flips the first data byte of entry k in the bundle file.
func flipEntryByte(t *testing.T, path string, k int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	off := 0
	for range k {
		off += 2 + int(binary.BigEndian.Uint16(b[off:]))
	}
	b[off+2] ^= 0x01
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func flipByte(t *testing.T, path string, off int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[off] ^= 0x80
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyDetectsTampering(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		tamper func(t *testing.T, dir string)
		want   []string
	}{
		{
			name:   "entry in full bundle",
			tamper: func(t *testing.T, dir string) { flipEntryByte(t, filepath.Join(dir, "tile/entries/000"), 17) },
			want:   []string{"entry 17 (bundle 0)", "does not match the checkpoint"},
		},
		{
			name:   "entry in partial bundle",
			tamper: func(t *testing.T, dir string) { flipEntryByte(t, filepath.Join(dir, "tile/entries/002.p/88"), 550-512) },
			want:   []string{"entry 550 (bundle 2)"},
		},
		{
			name:   "level 0 hash tile",
			tamper: func(t *testing.T, dir string) { flipByte(t, filepath.Join(dir, "tile/0/001"), 5*32+3) },
			want:   []string{"entry 261 (bundle 1)", "tile/0/001 node 5", "hash tile is wrong"},
		},
		{
			name:   "level 1 hash tile",
			tamper: func(t *testing.T, dir string) { flipByte(t, filepath.Join(dir, "tile/1/000.p/2"), 32+7) },
			want:   []string{"tile/1/000.p/2 node 1", "entries 256-511"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := newLog(t, "a", "e", 600)
			srv := newServer(t, l)
			stateFile := filepath.Join(t.TempDir(), "audit.json")
			if _, err := audit.Verify(ctx, srv.opts(stateFile)); err != nil {
				t.Fatalf("Verify before tampering: %v", err)
			}
			tc.tamper(t, l.dir)

			opts := srv.opts(stateFile)
			opts.Full = true
			_, err := audit.Verify(ctx, opts)
			t.Logf("Verify: %v", err)
			if !errors.Is(err, audit.ErrTampered) {
				t.Fatalf("Verify after tampering = %v, want ErrTampered", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			// A fresh auditor with no state sees it too.
			if _, err := audit.Verify(ctx, srv.opts("")); !errors.Is(err, audit.ErrTampered) {
				t.Errorf("stateless Verify after tampering = %v, want ErrTampered", err)
			}
		})
	}
}

func TestVerifyRejectsOtherKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a := newLog(t, "a", "e", 10)
	b := newLog(t, "b", "e", 10) // same origin, another key
	srv := newServer(t, a)
	stateFile := filepath.Join(t.TempDir(), "audit.json")
	if _, err := audit.Verify(ctx, srv.opts(stateFile)); err != nil {
		t.Fatal(err)
	}
	srv.serve(ledger.Handler(b.log))

	// The saved key no longer matches what the server announces.
	if _, err := audit.Verify(ctx, srv.opts(stateFile)); !errors.Is(err, audit.ErrKeyMismatch) {
		t.Errorf("Verify of a log with another key = %v, want ErrKeyMismatch", err)
	}
	// With the key given, the checkpoint signature itself fails.
	opts := srv.opts("")
	opts.VerifierKey = a.log.VerifierKey()
	_, err := audit.Verify(ctx, opts)
	t.Logf("Verify: %v", err)
	if !errors.Is(err, audit.ErrSignature) || !strings.Contains(err.Error(), "checkpoint signature invalid") {
		t.Errorf("Verify of a checkpoint signed by another key = %v, want ErrSignature", err)
	}
	// A server that keeps announcing the old key but signs with a new one.
	srv.serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/key" {
			fmt.Fprintln(w, a.log.VerifierKey())
			return
		}
		ledger.Handler(b.log).ServeHTTP(w, r)
	}))
	if _, err := audit.Verify(ctx, srv.opts(stateFile)); !errors.Is(err, audit.ErrSignature) {
		t.Errorf("Verify with a swapped signing key = %v, want ErrSignature", err)
	}
}

func TestVerifyDetectsReplacedLog(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	orig := newLog(t, "a", "e", 600)
	srv := newServer(t, orig)
	stateFile := filepath.Join(t.TempDir(), "audit.json")
	if _, err := audit.Verify(ctx, srv.opts(stateFile)); err != nil {
		t.Fatal(err)
	}
	saved, err := os.ReadFile(stateFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		n    int
		full bool
		want error
		msg  string
	}{
		{"shorter", 300, false, audit.ErrRollback, "log size went backwards from 600 to 300"},
		{"longer, different", 900, false, audit.ErrInconsistent, "consistency with saved checkpoint at size 600 failed"},
		{"longer, different, full audit", 900, true, audit.ErrInconsistent, "consistency with saved checkpoint at size 600 failed"},
		{"same size, different", 600, false, audit.ErrInconsistent, "consistency with saved checkpoint at size 600 failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Same key, same origin, new directory, other entries.
			other := newLog(t, "a", "forged", tc.n)
			srv.serve(ledger.Handler(other.log))
			if err := os.WriteFile(stateFile, saved, 0o600); err != nil {
				t.Fatal(err)
			}
			opts := srv.opts(stateFile)
			opts.Full = tc.full
			_, err := audit.Verify(ctx, opts)
			t.Logf("Verify: %v", err)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("Verify = %v, want %v mentioning %q", err, tc.want, tc.msg)
			}
			// A failed audit leaves the state untouched.
			if now, _ := os.ReadFile(stateFile); string(now) != string(saved) {
				t.Fatal("failed Verify changed the state file")
			}
		})
	}
}

func TestVerifyFetchErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := newLog(t, "a", "e", 300)
	srv := newServer(t, l)
	srv.serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/tile/entries/") {
			http.Error(w, "overloaded", http.StatusServiceUnavailable)
			return
		}
		ledger.Handler(l.log).ServeHTTP(w, r)
	}))
	_, err := audit.Verify(ctx, srv.opts(""))
	t.Logf("Verify: %v", err)
	if !errors.Is(err, audit.ErrFetch) || errors.Is(err, audit.ErrTampered) {
		t.Errorf("Verify with failing bundles = %v, want ErrFetch only", err)
	}
	opts := srv.opts("")
	opts.BaseURL = "http://127.0.0.1:1/ledger/"
	if _, err := audit.Verify(ctx, opts); !errors.Is(err, audit.ErrFetch) {
		t.Errorf("Verify of an unreachable server = %v, want ErrFetch", err)
	}
	bad := filepath.Join(t.TempDir(), "audit.json")
	if err := os.WriteFile(bad, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := audit.Verify(ctx, srv.opts(bad)); !errors.Is(err, audit.ErrState) {
		t.Errorf("Verify with a corrupt state file = %v, want ErrState", err)
	}
}
