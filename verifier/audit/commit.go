package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/medid/medid/internal/kv"
)

// Log records e like Record, but returns as soon as the entry is stored
// in its patient's chain, with a pending marker; its commitment is then
// appended to the ledger in the background, retried until it is, and an
// entry left pending by a stop or crash is committed by CommitPending
// (run at start and every Options.SweepInterval). The returned Recorded
// has no LeafIndex. Use it where the caller does not hand the leaf index
// on: a verification answered to a client should not wait for a ledger
// batch, but must not be answered before it is logged.
func (s *Service) Log(ctx context.Context, e Entry) (Recorded, error) {
	select {
	case s.slots <- struct{}{}: // bounds the appends in flight
	case <-ctx.Done():
		return Recorded{}, ctx.Err()
	}
	p, rec, err := s.stage(ctx, e, true)
	if err != nil {
		<-s.slots
		return Recorded{}, err
	}
	s.commitLater(rec, p.e.Time, true)
	return Recorded{ID: rec.ID, Patient: p.e.Patient, Seq: p.e.Seq, Commitment: rec.Commitment}, nil
}

// commitLater appends rec's commitment in the background and then stores
// its leaf index and drops its pending marker. haveSlot says the caller
// took a slot already.
func (s *Service) commitLater(rec stored, t time.Time, haveSlot bool) {
	if _, busy := s.committing.LoadOrStore(rec.ID, true); busy {
		if haveSlot {
			<-s.slots
		}
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer s.committing.Delete(rec.ID)
		if !haveSlot {
			select {
			case s.slots <- struct{}{}:
			case <-s.stop:
				return
			}
		}
		defer func() { <-s.slots }()
		for attempt := 0; ; attempt++ {
			appended, err := s.commitOne(rec, t)
			if err == nil {
				return
			}
			if appended {
				// On the ledger, but its index not stored: the next sweep
				// appends it again rather than this loop now.
				s.log.Warn("audit: leaf index not stored; left pending", "entry", rec.ID, "error", err)
				return
			}
			s.log.Warn("audit: commitment not appended yet; will retry", "entry", rec.ID, "attempt", attempt+1, "error", err)
			if attempt == 4 {
				return // left pending: the next sweep retries it
			}
			select {
			case <-time.After(time.Duration(100<<attempt) * time.Millisecond):
			case <-s.stop:
				return
			}
		}
	}()
}

// commitOne appends rec's commitment and records its leaf index;
// appended says the append succeeded.
func (s *Service) commitOne(rec stored, t time.Time) (appended bool, err error) {
	data, err := LedgerEntry(rec.Commitment, t)
	if err != nil {
		return false, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.tmo)
	defer cancel()
	idx, err := s.ledger.Append(ctx, data)
	if err != nil {
		return false, fmt.Errorf("%w: %w", ErrNotCommitted, err)
	}
	rec.LeafIndex, rec.Pending = &idx, false
	raw, err := json.Marshal(rec)
	if err != nil {
		return true, err
	}
	done := make(chan error, 1)
	s.finishing <- finish{id: rec.ID, raw: raw, done: done}
	return true, <-done
}

// finish is a committed entry whose leaf index is to be stored and whose
// pending marker is to be dropped.
type finish struct {
	id   string
	raw  []byte
	done chan error
}

// maxFinishBatch bounds the entries finished in one store write.
const maxFinishBatch = 256

// finisher stores committed entries' leaf indexes, and drops their
// pending markers, in one store write for all those that arrived while
// the previous write ran (a ledger batch's worth, typically), instead of
// two writes each. A sweep that finds a marker whose entry has its leaf
// index only drops the marker. It runs for the life of the process (a
// committer may still be sending after Close has given up waiting).
func (s *Service) finisher() {
	for f := range s.finishing {
		batch := []finish{f}
	more:
		for len(batch) < maxFinishBatch {
			select {
			case g := <-s.finishing:
				batch = append(batch, g)
			default:
				break more
			}
		}
		items := make([]kv.Item, 0, 2*len(batch))
		for _, f := range batch {
			items = append(items, kv.Item{Key: entryPrefix + f.id, Value: f.raw}, kv.Item{Key: pendingPrefix + f.id, Delete: true})
		}
		ctx, cancel := context.WithTimeout(context.Background(), s.tmo)
		err := s.store.PutAll(ctx, items)
		cancel()
		if err != nil {
			err = fmt.Errorf("audit: store the leaf indexes: %w", err)
		}
		for _, f := range batch {
			f.done <- err
		}
	}
}

// CommitPending appends the commitments of entries left pending (by a
// crash, a stop, or a ledger that kept failing) and returns how many it
// handed to the committer. Entries still being committed by this process
// are skipped. It runs at start and every Options.SweepInterval; several
// instances sweeping at once at worst append a commitment twice.
func (s *Service) CommitPending(ctx context.Context) (int, error) {
	var ids []string
	err := s.store.List(ctx, pendingPrefix, func(k string, _ []byte) error {
		ids = append(ids, strings.TrimPrefix(k, pendingPrefix))
		return nil
	})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		if _, busy := s.committing.Load(id); busy {
			continue
		}
		raw, err := s.store.Get(ctx, entryPrefix+id)
		if errors.Is(err, kv.ErrNotFound) {
			_ = s.store.Delete(ctx, pendingPrefix+id)
			continue
		}
		if err != nil {
			return n, err
		}
		var rec stored
		if err := json.Unmarshal(raw, &rec); err != nil {
			return n, fmt.Errorf("audit: entry %s: %w", id, err)
		}
		if rec.LeafIndex != nil {
			_ = s.store.Delete(ctx, pendingPrefix+id)
			continue
		}
		e, err := parseCanonical(rec.Entry)
		if err != nil {
			return n, fmt.Errorf("audit: entry %s: %w", id, err)
		}
		s.commitLater(rec, e.Time, false)
		n++
	}
	return n, nil
}

// sweep runs CommitPending now and then every interval until Close.
func (s *Service) sweep(interval time.Duration) {
	defer s.wg.Done()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if n, err := s.CommitPending(ctx); err != nil {
			s.log.Error("audit: sweep of pending entries failed", "error", err)
		} else if n > 0 {
			s.log.Info("audit: committing pending entries", "entries", n)
		}
		cancel()
		select {
		case <-t.C:
		case <-s.stop:
			return
		}
	}
}

// Close stops the sweep and waits, until ctx ends, for the commitments in
// flight. Call it before closing the ledger. What is not committed by then
// stays pending and is committed at the next start.
func (s *Service) Close(ctx context.Context) error {
	s.closeOnce.Do(func() { close(s.stop) })
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("audit: commitments still in flight at close: %w", ctx.Err())
	}
}
