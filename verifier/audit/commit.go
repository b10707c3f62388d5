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
	case s.slots <- struct{}{}: // bounds the commitments queued
	case <-ctx.Done():
		return Recorded{}, ctx.Err()
	}
	p, rec, err := s.stage(ctx, e, true)
	if err != nil {
		<-s.slots
		return Recorded{}, err
	}
	if s.j == nil { // with a journal, the entry is queued once stored
		s.commitLater(rec, p.e.Time, true)
	}
	return Recorded{ID: rec.ID, Patient: p.e.Patient, Seq: p.e.Seq, Commitment: rec.Commitment}, nil
}

// toCommit is a stored entry whose commitment is to be appended.
type toCommit struct {
	rec stored
	t   time.Time
}

// commitLater queues rec for the committer. haveSlot says the caller took
// a slot already; without one, commitLater waits for a slot (or Close).
func (s *Service) commitLater(rec stored, t time.Time, haveSlot bool) {
	if _, busy := s.committing.LoadOrStore(rec.ID, true); busy {
		if haveSlot {
			<-s.slots
		}
		return
	}
	if !haveSlot {
		select {
		case s.slots <- struct{}{}:
		case <-s.stop:
			s.committing.Delete(rec.ID)
			return // left pending: the next start commits it
		}
	}
	s.qmu.Lock()
	s.queue = append(s.queue, toCommit{rec: rec, t: t})
	s.qmu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// maxCommitBatch bounds the commitments appended at once.
const maxCommitBatch = 1024

// commitInterval is the least time between the starts of two batches
// that are not full. Nobody waits on these appends (the entries are
// stored, and shown as pending), so under load the committer gathers a
// batch's worth rather than cutting one per ledger batch: fewer, larger
// ledger batches cost less CPU and fewer file syncs for the same entries.
const commitInterval = 250 * time.Millisecond

// committer appends queued commitments to the ledger, all those queued
// at once (one AppendAll), retrying a failed batch a few times before
// leaving it pending for the sweep, and hands the appended ones to the
// finisher. At Close it commits what is queued, then stops.
func (s *Service) committer() {
	defer close(s.finishing)
	var last time.Time // when the last batch that was not full started
	for {
		if wait := time.Until(last.Add(commitInterval)); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-s.stop:
				t.Stop()
			}
		}
		s.qmu.Lock()
		batch := s.queue
		if len(batch) > maxCommitBatch {
			batch = batch[:maxCommitBatch:maxCommitBatch]
			s.queue = s.queue[maxCommitBatch:]
		} else {
			s.queue = nil
		}
		s.qmu.Unlock()
		if len(batch) == 0 {
			select {
			case <-s.wake:
				continue
			case <-s.stop:
				s.qmu.Lock()
				n := len(s.queue)
				s.qmu.Unlock()
				if n == 0 {
					return
				}
				continue
			}
		}
		last = time.Time{}
		if len(batch) < maxCommitBatch {
			last = time.Now()
		}
		s.commitBatch(batch)
	}
}

// commitBatch appends batch's commitments and, once appended, queues
// them for the finisher; what cannot be appended stays pending.
func (s *Service) commitBatch(batch []toCommit) {
	release := func(b []toCommit) {
		for _, c := range b {
			s.committing.Delete(c.rec.ID)
			<-s.slots
		}
	}
	data := make([][]byte, 0, len(batch))
	ok := batch[:0:0]
	for _, c := range batch {
		d, err := LedgerEntry(c.rec.Commitment, c.t)
		if err != nil {
			s.log.Error("audit: ledger entry", "entry", c.rec.ID, "error", err)
			release([]toCommit{c})
			continue
		}
		data = append(data, d)
		ok = append(ok, c)
	}
	batch = ok
	for attempt := 0; len(batch) > 0; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), s.tmo)
		idx, err := s.ledger.AppendAll(ctx, data)
		cancel()
		if err == nil {
			fs := make([]finish, len(batch))
			for i, c := range batch {
				rec := c.rec
				rec.LeafIndex, rec.Pending = &idx[i], false
				fs[i].id = rec.ID
				if fs[i].raw, err = json.Marshal(rec); err != nil {
					fs[i].raw = nil // left pending: the sweep finds the leaf missing and appends again
				}
			}
			s.finishing <- finishBatch{items: fs, done: func() { release(batch) }}
			return
		}
		s.log.Warn("audit: commitments not appended yet; will retry", "entries", len(batch), "attempt", attempt+1, "error", err)
		if attempt == 4 {
			release(batch) // left pending: the next sweep retries them
			return
		}
		select {
		case <-time.After(time.Duration(100<<attempt) * time.Millisecond):
		case <-s.stop:
			release(batch) // left pending: the next start commits them
			return
		}
	}
}

// finish is a committed entry whose leaf index is to be stored and whose
// pending marker is to be dropped.
type finish struct {
	id  string
	raw []byte
}

// finishBatch is one appended batch; done runs once it is finished (or
// the store failed, leaving it pending).
type finishBatch struct {
	items []finish
	done  func()
}

// maxFinishBatch bounds the entries finished in one store write.
const maxFinishBatch = 2048

// finisher stores committed entries' leaf indexes, and drops their
// pending markers, in one store write for all the batches appended while
// the previous write ran, instead of two writes an entry. A sweep that
// finds a marker whose entry has its leaf index only drops the marker. It
// ends when the committer does.
func (s *Service) finisher() {
	defer close(s.finished)
	for b := range s.finishing {
		batches := []finishBatch{b}
		n := len(b.items)
	more:
		for n < maxFinishBatch {
			select {
			case c, ok := <-s.finishing:
				if !ok {
					break more
				}
				batches = append(batches, c)
				n += len(c.items)
			default:
				break more
			}
		}
		items := make([]kv.Item, 0, 2*n)
		for _, b := range batches {
			for _, f := range b.items {
				if f.raw != nil {
					items = append(items, kv.Item{Key: entryPrefix + f.id, Value: f.raw}, kv.Item{Key: pendingPrefix + f.id, Delete: true})
				}
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), s.tmo)
		if err := s.store.PutAll(ctx, items); err != nil {
			// On the ledger, but their indexes not stored: the next sweep
			// appends them again.
			s.log.Warn("audit: leaf indexes not stored; left pending", "entries", n, "error", err)
		}
		cancel()
		for _, b := range batches {
			b.done()
		}
	}
}

// CommitPending appends the commitments of entries left pending (by a
// crash, a stop, or a ledger that kept failing) and returns how many it
// handed to the committer. Entries still being committed by this process
// are skipped. It runs at start and every Options.SweepInterval; several
// instances sweeping at once at worst append a commitment twice.
func (s *Service) CommitPending(ctx context.Context) (int, error) {
	if err := s.settle(ctx); err != nil {
		return 0, err
	}
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

// Pending returns how many commitments of logged entries are queued for
// the ledger or being appended: near Options.MaxPending, Log waits for
// the ledger.
func (s *Service) Pending() int { return len(s.slots) }

// Healthy returns nil while the access log takes entries, and otherwise
// why not: a journal that could not be written refuses every entry, so
// every verification, login and access decision fails, until the
// process restarts (and replays what was durable). A readiness check
// reports it, so that the instance is taken out of service and
// restarted.
func (s *Service) Healthy() error {
	if s.j == nil {
		return nil
	}
	return s.j.err()
}

// Close stops the sweep and waits, until ctx ends, for the commitments
// queued to be appended and finished. Call it before closing the ledger.
// What is not committed by then stays pending and is committed at the
// next start.
func (s *Service) Close(ctx context.Context) error {
	var jerr error
	s.closeOnce.Do(func() {
		if s.j != nil {
			// The journal's records reach the store, and Log's entries
			// the committer, before it stops.
			jerr = s.j.close(ctx)
		}
		close(s.stop)
	})
	if jerr != nil {
		return jerr
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); <-s.finished; close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("audit: commitments still in flight at close: %w", ctx.Err())
	}
}
