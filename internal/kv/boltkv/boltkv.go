// Package boltkv implements kv.Store on an embedded bbolt database file, the
// default storage of a single medid instance.
//
// Entries live in one bucket. Each value is stored as a version byte, the
// expiry time in Unix nanoseconds (big-endian, 0 for none) and the value
// bytes. Expired entries are invisible at once; they are deleted when a
// reader or writer meets them, and by a janitor that Open starts and that
// sweeps the whole bucket every minute until Close.
//
// bbolt locks the file, so only one process (and one Store) can have a
// database open; a second Open fails after a short timeout.
package boltkv

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/medid/medid/internal/groupcommit"
	"github.com/medid/medid/internal/kv"
)

// SweepInterval is how often the janitor started by Open removes expired
// entries.
const SweepInterval = time.Minute

// openTimeout is how long Open waits for the file lock held by another
// process (or another Store in this one).
const openTimeout = time.Second

// listBatch is how many entries List reads per read transaction. fn is
// called between transactions so that it may write to the store.
const listBatch = 256

var bucketName = []byte("kv")

// initialMmapSize is the address space a store maps when it opens.
const initialMmapSize = 1 << 30

// Store is a kv.Store backed by a bbolt file. Its methods are safe for
// concurrent use.
type Store struct {
	db  *bolt.DB
	now func() time.Time
	// writes coalesces concurrent writes into shared transactions (group
	// commit: one fsync for many writes).
	writes groupcommit.Queue[*write]

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	closeErr  error
}

var _ kv.Store = (*Store)(nil)

// Open opens, or creates, the database file at path with mode 0600 and
// starts the janitor. If another process holds the file, Open fails after
// about a second with an error that says so.
func Open(path string) (*Store, error) { return OpenWith(path, Options{}) }

// Options tune a store.
type Options struct {
	// NoSync skips fsync on commit. Only for data that can be rebuilt from
	// elsewhere (a derived index): after a power loss the file may be lost
	// or unreadable, though a process crash loses nothing.
	NoSync bool
}

// OpenWith is Open with options.
func OpenWith(path string, opts Options) (*Store, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: openTimeout, NoSync: opts.NoSync, NoFreelistSync: opts.NoSync,
		// bbolt remaps the file as it grows, holding every transaction
		// back meanwhile; mapping 1 GiB of address space up front (not
		// memory, and not disk) spares a growing store those stalls.
		InitialMmapSize: initialMmapSize})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("boltkv: open %s: the database is locked by another process (gave up after %v): %w", path, openTimeout, err)
	}
	if err != nil {
		return nil, fmt.Errorf("boltkv: open %s: %w", path, err)
	}
	// bbolt only applies the mode when it creates the file.
	if err := os.Chmod(path, 0o600); err != nil {
		db.Close()
		return nil, fmt.Errorf("boltkv: open %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucketName)
		return err
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("boltkv: open %s: %w", path, err)
	}
	s := &Store{
		db:   db,
		now:  time.Now,
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	go s.janitor()
	return s, nil
}

// Close stops the janitor and closes the database. Calling it again returns
// the first result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.stop)
		<-s.done
		if err := s.db.Close(); err != nil {
			s.closeErr = fmt.Errorf("boltkv: close: %w", err)
		}
	})
	return s.closeErr
}

func (s *Store) janitor() {
	defer close(s.done)
	t := time.NewTicker(SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			// The error can only be a closed or broken database, which the
			// next call of a method reports.
			_ = s.Sweep(context.Background())
		}
	}
}

// Sweep deletes every expired entry. The janitor calls it every
// SweepInterval; there is no need to call it otherwise.
func (s *Store) Sweep(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := s.now().UnixNano()
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketName)
		// Deleting while iterating makes a bbolt cursor skip entries, so
		// collect first.
		var expired [][]byte
		err := b.ForEach(func(k, v []byte) error {
			if e, err := decode(v); err == nil && e.expiredAt(now) {
				expired = append(expired, bytes.Clone(k))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range expired {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("boltkv: sweep: %w", err)
	}
	return nil
}

// Get implements kv.Store.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	if err := check(ctx, key, 0); err != nil {
		return nil, err
	}
	now := s.now().UnixNano()
	var (
		value   []byte
		expired bool
	)
	err := s.db.View(func(tx *bolt.Tx) error {
		e, ok, err := lookup(tx, key)
		if err != nil || !ok {
			return err
		}
		if e.expiredAt(now) {
			expired = true
			return nil
		}
		value = bytes.Clone(e.value)
		if value == nil {
			value = []byte{}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("boltkv: get %q: %w", key, err)
	}
	if expired {
		s.removeExpired(key, now)
	}
	if value == nil {
		return nil, kv.ErrNotFound
	}
	return value, nil
}

// removeExpired deletes key if it is still expired at now. A failure is
// harmless: the entry stays invisible and the janitor retries.
func (s *Store) removeExpired(key string, now int64) {
	_ = s.db.Update(func(tx *bolt.Tx) error {
		e, ok, err := lookup(tx, key)
		if err != nil || !ok || !e.expiredAt(now) {
			return nil
		}
		return tx.Bucket(bucketName).Delete([]byte(key))
	})
}

// Put implements kv.Store.
func (s *Store) Put(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := check(ctx, key, ttl); err != nil {
		return err
	}
	enc := encode(value, s.expiry(ttl))
	err := s.update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketName).Put([]byte(key), enc)
	})
	if err != nil {
		return fmt.Errorf("boltkv: put %q: %w", key, err)
	}
	return nil
}

// PutAll implements kv.Store: one transaction, so one commit.
func (s *Store) PutAll(ctx context.Context, items []kv.Item) error {
	return s.putAll(ctx, "", nil, false, items)
}

// PutAllIf implements kv.Store.
func (s *Store) PutAllIf(ctx context.Context, key string, old []byte, items []kv.Item) error {
	if err := check(ctx, key, 0); err != nil {
		return err
	}
	return s.putAll(ctx, key, old, true, items)
}

func (s *Store) putAll(ctx context.Context, key string, old []byte, cond bool, items []kv.Item) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(items) == 0 && !cond {
		return nil
	}
	now := s.now()
	encs := make([][]byte, len(items))
	for i, it := range items {
		if err := check(ctx, it.Key, it.TTL); err != nil {
			return err
		}
		encs[i] = encode(it.Value, expiry(now, it.TTL))
	}
	// As in CompareAndSwap, a failed condition writes nothing and is not
	// an error of the (possibly shared) transaction.
	var conflict bool
	err := s.update(func(tx *bolt.Tx) error {
		conflict = false
		if cond {
			var err error
			if conflict, err = conflicts(tx, key, old, now); err != nil || conflict {
				return err
			}
		}
		b := tx.Bucket(bucketName)
		for i, it := range items {
			var err error
			if it.Delete {
				err = b.Delete([]byte(it.Key))
			} else {
				err = b.Put([]byte(it.Key), encs[i])
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil && conflict {
		return kv.ErrConflict
	}
	if err != nil {
		return fmt.Errorf("boltkv: put %d items: %w", len(items), err)
	}
	return nil
}

// CompareAndSwap implements kv.Store.
func (s *Store) CompareAndSwap(ctx context.Context, key string, old, value []byte, ttl time.Duration) error {
	if err := check(ctx, key, ttl); err != nil {
		return err
	}
	now := s.now()
	enc := encode(value, expiry(now, ttl))
	// A failed condition is not an error of the transaction: returning one
	// would make bbolt roll back the whole shared batch and re-run every
	// other writer in it. The function writes nothing and says so instead.
	var conflict bool
	err := s.update(func(tx *bolt.Tx) error {
		var err error
		if conflict, err = conflicts(tx, key, old, now); err != nil || conflict { // a batched function may run again
			return err
		}
		return tx.Bucket(bucketName).Put([]byte(key), enc)
	})
	if err == nil && conflict {
		return kv.ErrConflict
	}
	if err != nil {
		return fmt.Errorf("boltkv: compare-and-swap %q: %w", key, err)
	}
	return nil
}

// conflicts reports whether the value under key differs from old (nil:
// the key must be absent), as CompareAndSwap's condition says.
func conflicts(tx *bolt.Tx, key string, old []byte, now time.Time) (bool, error) {
	e, ok, err := lookup(tx, key)
	if err != nil {
		return false, err
	}
	present := ok && !e.expiredAt(now.UnixNano())
	return (old == nil && present) || (old != nil && (!present || !bytes.Equal(old, e.value))), nil
}

// update runs fn in a write transaction and returns once it is
// committed. Writes that arrive while another commits queue, and the
// first of them then commits them all in one transaction (group commit:
// one fsync for many writes), with no timer: a lone write commits at
// once. A write in a shared transaction may run more than once (every fn
// here is idempotent): if one fails, the transaction is rolled back and
// each runs alone, so that its error is its own.
func (s *Store) update(fn func(*bolt.Tx) error) error {
	w := &write{fn: fn}
	s.writes.Do(w, s.commit)
	return w.err
}

// write is one update waiting to be committed, and then its result.
type write struct {
	fn  func(*bolt.Tx) error
	err error
}

// commit runs batch's writes in one transaction, or, if one of them
// fails, each in its own.
func (s *Store) commit(batch []*write) {
	if len(batch) == 1 {
		batch[0].err = s.db.Update(safe(batch[0].fn))
		return
	}
	failed := false
	err := s.db.Update(func(tx *bolt.Tx) error {
		for _, w := range batch {
			if err := safe(w.fn)(tx); err != nil {
				failed = true
				return err
			}
		}
		return nil
	})
	if !failed {
		for _, w := range batch {
			w.err = err // nil, or the commit's own failure
		}
		return
	}
	for _, w := range batch {
		w.err = s.db.Update(safe(w.fn))
	}
}

// safe turns a panic in fn into an error, so that one write's bug cannot
// leave the writes queued behind it waiting for ever.
func safe(fn func(*bolt.Tx) error) func(*bolt.Tx) error {
	return func(tx *bolt.Tx) (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("boltkv: write panicked: %v", r)
			}
		}()
		return fn(tx)
	}
}

// Take implements kv.Store.
func (s *Store) Take(ctx context.Context, key string) ([]byte, error) {
	if err := check(ctx, key, 0); err != nil {
		return nil, err
	}
	now := s.now().UnixNano()
	var value []byte
	err := s.update(func(tx *bolt.Tx) error {
		value = nil // a batched function may run again
		e, ok, err := lookup(tx, key)
		if err != nil || !ok {
			return err
		}
		if !e.expiredAt(now) {
			value = bytes.Clone(e.value)
			if value == nil {
				value = []byte{}
			}
		}
		// Expired or not, the entry goes.
		return tx.Bucket(bucketName).Delete([]byte(key))
	})
	if err != nil {
		return nil, fmt.Errorf("boltkv: take %q: %w", key, err)
	}
	if value == nil {
		return nil, kv.ErrNotFound
	}
	return value, nil
}

// Delete implements kv.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := check(ctx, key, 0); err != nil {
		return err
	}
	err := s.update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketName).Delete([]byte(key))
	})
	if err != nil {
		return fmt.Errorf("boltkv: delete %q: %w", key, err)
	}
	return nil
}

// List implements kv.Store. It reads entries in batches, each in its own
// read transaction, and calls fn between transactions, so fn may use the
// store. An entry written during List may or may not be seen.
func (s *Store) List(ctx context.Context, prefix string, fn func(key string, value []byte) error) error {
	type entry struct {
		key   string
		value []byte
	}
	p := []byte(prefix)
	start := p // the first key of the next batch, inclusive
	skipStart := false
	batch := make([]entry, 0, listBatch)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		now := s.now().UnixNano()
		batch = batch[:0]
		more := false
		err := s.db.View(func(tx *bolt.Tx) error {
			c := tx.Bucket(bucketName).Cursor()
			k, v := c.Seek(start)
			if skipStart && bytes.Equal(k, start) {
				k, v = c.Next()
			}
			for ; k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
				if len(batch) == listBatch {
					more = true
					return nil
				}
				e, err := decode(v)
				if err != nil {
					return fmt.Errorf("entry %q: %w", k, err)
				}
				if e.expiredAt(now) {
					continue
				}
				value := bytes.Clone(e.value)
				if value == nil {
					value = []byte{}
				}
				batch = append(batch, entry{string(k), value})
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("boltkv: list %q: %w", prefix, err)
		}
		for _, e := range batch {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := fn(e.key, e.value); err != nil {
				return err
			}
		}
		if !more {
			return nil
		}
		start, skipStart = []byte(batch[len(batch)-1].key), true
	}
}

func check(ctx context.Context, key string, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := kv.CheckKey(key); err != nil {
		return err
	}
	return kv.CheckTTL(ttl)
}

func (s *Store) expiry(ttl time.Duration) int64 {
	return expiry(s.now(), ttl)
}

// expiry returns the expiry time in Unix nanoseconds of an entry written at
// now with ttl, or 0 for none.
func expiry(now time.Time, ttl time.Duration) int64 {
	if ttl == 0 {
		return 0
	}
	n := now.UnixNano()
	if int64(ttl) > math.MaxInt64-n {
		return math.MaxInt64 // beyond the year 2262: never, in practice
	}
	return n + int64(ttl)
}

// Stored encoding: version (1 byte) | expiry in Unix nanoseconds, 0 = none
// (8 bytes, big-endian) | value.
const (
	encVersion = 1
	headerLen  = 1 + 8
)

type stored struct {
	expiry int64
	value  []byte // aliases bbolt memory: valid only in its transaction
}

func (e stored) expiredAt(now int64) bool {
	return e.expiry != 0 && e.expiry <= now
}

func encode(value []byte, expiry int64) []byte {
	b := make([]byte, headerLen, headerLen+len(value))
	b[0] = encVersion
	binary.BigEndian.PutUint64(b[1:headerLen], uint64(expiry))
	return append(b, value...)
}

var errCorrupt = errors.New("corrupt stored value")

func decode(b []byte) (stored, error) {
	if len(b) < headerLen || b[0] != encVersion {
		return stored{}, errCorrupt
	}
	return stored{
		expiry: int64(binary.BigEndian.Uint64(b[1:headerLen])),
		value:  b[headerLen:],
	}, nil
}

// lookup returns the entry under key, with ok false if there is none.
func lookup(tx *bolt.Tx, key string) (e stored, ok bool, err error) {
	v := tx.Bucket(bucketName).Get([]byte(key))
	if v == nil {
		return stored{}, false, nil
	}
	e, err = decode(v)
	if err != nil {
		return stored{}, false, err
	}
	return e, true, nil
}
