package boltkv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/medid/medid/internal/kv"
)

func openTemp(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kv.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

// rawKeys returns every key in the bucket, expired or not.
func rawKeys(t *testing.T, s *Store) []string {
	t.Helper()
	var keys []string
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketName).ForEach(func(k, _ []byte) error {
			keys = append(keys, string(k))
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

func TestSweep(t *testing.T) {
	s, _ := openTemp(t)
	ctx := t.Context()
	for _, k := range []string{"a", "b", "c", "d", "e"} {
		if err := s.Put(ctx, k, []byte("v"), 50*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Put(ctx, "keep", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "later", []byte("v"), time.Hour); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if got := len(rawKeys(t, s)); got != 7 {
		t.Fatalf("before Sweep: %d raw entries, want 7", got)
	}
	if err := s.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(rawKeys(t, s), ","); got != "keep,later" {
		t.Fatalf("after Sweep: raw keys %q, want keep,later", got)
	}
}

func TestGetRemovesExpired(t *testing.T) {
	s, _ := openTemp(t)
	if err := s.Put(t.Context(), "x", []byte("v"), 20*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if _, err := s.Get(t.Context(), "x"); !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("Get(expired): %v, want ErrNotFound", err)
	}
	if keys := rawKeys(t, s); len(keys) != 0 {
		t.Fatalf("expired entry not removed by Get: raw keys %q", keys)
	}
}

func TestFarExpiry(t *testing.T) {
	s, _ := openTemp(t)
	if err := s.Put(t.Context(), "x", []byte("v"), time.Duration(1<<63-1)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(t.Context(), "x"); err != nil {
		t.Fatalf("Get of an entry with the longest ttl: %v", err)
	}
}

func TestSecondOpenFails(t *testing.T) {
	_, path := openTemp(t)
	start := time.Now()
	s2, err := Open(path)
	if err == nil {
		s2.Close()
		t.Fatal("second Open of a locked database succeeded")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("second Open took %v", d)
	}
	if !strings.Contains(err.Error(), "locked") || !strings.Contains(err.Error(), path) {
		t.Errorf("second Open error %q does not say the file %s is locked", err, path)
	}
}

func TestFileMode(t *testing.T) {
	_, path := openTemp(t)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if m := fi.Mode().Perm(); m != 0o600 {
		t.Errorf("new database has mode %o, want 600", m)
	}

	// An existing file with a broader mode is narrowed.
	path2 := filepath.Join(t.TempDir(), "old.db")
	s, err := Open(path2)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := os.Chmod(path2, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path2)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fi, err = os.Stat(path2)
	if err != nil {
		t.Fatal(err)
	}
	if m := fi.Mode().Perm(); m != 0o600 {
		t.Errorf("reopened database has mode %o, want 600", m)
	}
}

func TestPersists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kv.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Put(t.Context(), "k", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	v, err := s.Get(t.Context(), "k")
	if err != nil || string(v) != "v" {
		t.Fatalf("after reopening: Get = %q, %v", v, err)
	}
}

func TestCorruptEntry(t *testing.T) {
	s, _ := openTemp(t)
	for _, raw := range [][]byte{{}, {encVersion, 0, 0}, {99, 0, 0, 0, 0, 0, 0, 0, 0, 'v'}} {
		err := s.db.Update(func(tx *bolt.Tx) error {
			return tx.Bucket(bucketName).Put([]byte("bad"), raw)
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx := t.Context()
		if _, err := s.Get(ctx, "bad"); err == nil || errors.Is(err, kv.ErrNotFound) {
			t.Errorf("Get of corrupt entry %x: %v, want a corruption error", raw, err)
		}
		if err := s.List(ctx, "", func(string, []byte) error { return nil }); err == nil {
			t.Errorf("List over corrupt entry %x: no error", raw)
		}
		if err := s.Sweep(ctx); err != nil {
			t.Errorf("Sweep over corrupt entry %x: %v", raw, err)
		}
		// A corrupt entry can be overwritten or deleted.
		if err := s.Delete(ctx, "bad"); err != nil {
			t.Errorf("Delete of corrupt entry: %v", err)
		}
	}
}

func TestClosedStore(t *testing.T) {
	s, _ := openTemp(t)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(t.Context(), "k", []byte("v"), 0); err == nil {
		t.Fatal("Put on a closed store succeeded")
	}
}

// TestGroupCommit: concurrent writes share transactions, and a write that
// fails or panics in a shared transaction gets its own error while every
// other write is committed.
func TestGroupCommit(t *testing.T) {
	s, _ := openTemp(t)
	const writers = 64
	// run starts writers concurrent writes; fail, if set, gives write i's
	// own result (nil: put its key).
	run := func(round string, fail func(i int) error) ([]error, int) {
		errs := make([]error, writers)
		var mu sync.Mutex
		txs := map[int]bool{} // the committed transactions writes ran in
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range writers {
			wg.Go(func() {
				<-start
				errs[i] = s.update(func(tx *bolt.Tx) error {
					mu.Lock()
					txs[tx.ID()] = true
					mu.Unlock()
					if fail != nil {
						if err := fail(i); err != nil {
							return err
						}
					}
					return tx.Bucket(bucketName).Put(fmt.Appendf(nil, "%s/%02d", round, i), encode([]byte("v"), 0))
				})
			})
		}
		close(start)
		wg.Wait()
		return errs, len(txs)
	}

	errs, n := run("a", nil)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	if n >= writers {
		t.Errorf("%d concurrent writers ran in %d transactions: none was shared", writers, n)
	}
	t.Logf("%d concurrent writers, %d transactions", writers, n)

	errs, _ = run("b", func(i int) error {
		switch i {
		case 7:
			return errors.New("write 7 refused")
		case 11:
			panic("write 11 broke")
		}
		return nil
	})
	for i, err := range errs {
		switch i {
		case 7:
			if err == nil || err.Error() != "write 7 refused" {
				t.Errorf("write 7: %v, want its own error", err)
			}
		case 11:
			if err == nil || !strings.Contains(err.Error(), "write 11 broke") {
				t.Errorf("write 11: %v, want the panic as an error", err)
			}
		default:
			if err != nil {
				t.Errorf("write %d: %v", i, err)
			}
		}
	}
	var b []string
	for _, k := range rawKeys(t, s) {
		if strings.HasPrefix(k, "b/") {
			b = append(b, k)
		}
	}
	if len(b) != writers-2 || slices.Contains(b, "b/07") || slices.Contains(b, "b/11") {
		t.Fatalf("committed %d keys, want all %d but b/07 and b/11: %v", len(b), writers-2, b)
	}

	// A lone write commits at once: no batch timer.
	begin := time.Now()
	if err := s.Put(context.Background(), "lone", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(begin); d > 500*time.Millisecond {
		t.Errorf("a lone write took %v", d)
	}
}
