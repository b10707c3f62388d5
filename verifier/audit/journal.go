package audit

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/medid/medid/internal/kv"
)

// The journal is the access log's write-ahead log, for a store that this
// process alone writes (Options.Journal). An entry is durable, and its
// caller answered, once its record is in the journal: one append and one
// file sync shared by every record that arrived during the previous sync
// (or, when that sync runs past hedgeAfter, a second one beside it),
// instead of a store commit. A background applier then writes the
// records' items to the store in large batches, each batch together with
// the number of the last record it holds (journalKey), so that a record
// is applied exactly once: at start, the records after that number are
// applied again before anything else runs.
//
// The journal is a series of segment files, journal-<first record's
// number>.log, each preallocated (zeros mark the end). A record is
//
//	u32 length | u32 CRC-32C of the payload | payload
//	payload = u64 number | uvarint count | count × item
//	item    = u8 flags (1: delete) | uvarint key length | key |
//	          uvarint TTL in ns | uvarint value length | value
//
// all integers big-endian. A record cut short by a crash (only the last
// segment's tail, never answered) ends the replay; damage anywhere else
// stops New with an error rather than lose entries quietly.

// journalKey holds the number of the last journal record applied.
const journalKey = "audit/j"

// segmentSize is the space each segment file is given up front: a sync
// after writing inside the file need not update its size. A variable for
// tests; a journal reads it when it opens.
var segmentSize int64 = 16 << 20

// maxApplyBatch bounds the records applied in one store write.
const maxApplyBatch = 4096

// applyInterval is the least time between the starts of two store writes
// of the applier, unless a reader waits for one or a batch is full: the
// store's syncs then share the disk with the journal's less often.
const applyInterval = 25 * time.Millisecond

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// errJournalClosed is returned for a record offered after Close.
var errJournalClosed = errors.New("audit: the access log is closed")

// jrec is one journal record: items that must reach the store together.
type jrec struct {
	lsn   uint64
	items []kv.Item
	// durable receives nil once the record is synced, or the error that
	// broke the journal.
	durable chan error
	// applied, if set, runs once the record's items are in the store.
	applied func()
}

type journal struct {
	dir     string
	log     *slog.Logger
	observe func(time.Duration) // each sync's duration, if set

	mu      sync.Mutex
	queue   []*jrec // offered, not yet written
	next    uint64  // the next record's number
	broken  error   // set when a write or sync failed: nothing more is taken
	closing bool
	durable uint64 // the last record synced
	applied uint64 // the last record in the store
	// appliedCh is closed, and replaced, whenever applied moves.
	appliedCh chan struct{}
	wake      chan struct{} // the writer
	syncing   []*jrec       // written, their sync in flight, in order
	inflight  int           // syncs in flight
	syncStart time.Time     // when the last sync started
	synced    chan struct{} // a sync ended (wakes the writer)
	toApply   []*jrec       // synced, not yet applied
	applyWake chan struct{}
	hurry     chan struct{} // a reader waits: apply now

	// The writer's own.
	f        *os.File
	off      int64
	segSize  int64
	segments []uint64 // first numbers of the segment files, oldest first
	segMu    sync.Mutex

	wrote   chan struct{} // closed when the writer ends
	appDone chan struct{} // closed when the applier ends
}

// openJournal replays dir's records into store and returns the journal,
// with its writer and applier running. onApplied runs after each applied
// batch with the number of its last record; observe, if set, receives
// each sync's duration.
func openJournal(ctx context.Context, dir string, store kv.Store, log *slog.Logger, onApplied func(lsn uint64), observe func(time.Duration)) (*journal, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("audit: journal: %w", err)
	}
	j := &journal{dir: dir, log: log, observe: observe, appliedCh: make(chan struct{}), wake: make(chan struct{}, 1), synced: make(chan struct{}, 1),
		applyWake: make(chan struct{}, 1), hurry: make(chan struct{}, 1), wrote: make(chan struct{}), appDone: make(chan struct{}), segSize: segmentSize}
	last, err := j.replay(ctx, store)
	if err != nil {
		return nil, err
	}
	j.next, j.durable, j.applied = last+1, last, last
	go j.writer()
	go j.applier(store, onApplied)
	return j, nil
}

// segmentFiles lists dir's segments by first record number.
func segmentFiles(dir string) ([]uint64, error) {
	names, err := filepath.Glob(filepath.Join(dir, "journal-*.log"))
	if err != nil {
		return nil, err
	}
	var firsts []uint64
	for _, n := range names {
		s := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(n), "journal-"), ".log")
		first, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("audit: journal: unexpected file %s", n)
		}
		firsts = append(firsts, first)
	}
	slices.Sort(firsts)
	return firsts, nil
}

func (j *journal) segmentPath(first uint64) string {
	return filepath.Join(j.dir, fmt.Sprintf("journal-%020d.log", first))
}

// replay applies the records not yet in store, removes the segments and
// returns the number of the last record applied.
func (j *journal) replay(ctx context.Context, store kv.Store) (uint64, error) {
	applied, err := appliedLSN(ctx, store)
	if err != nil {
		return 0, err
	}
	firsts, err := segmentFiles(j.dir)
	if err != nil {
		return 0, err
	}
	last := applied
	var batch []*jrec
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := applyRecords(ctx, store, batch); err != nil {
			return fmt.Errorf("audit: journal replay: %w", err)
		}
		batch = batch[:0]
		return nil
	}
	replayed := 0
	for i, first := range firsts {
		b, err := os.ReadFile(j.segmentPath(first))
		if err != nil {
			return 0, fmt.Errorf("audit: journal: %w", err)
		}
		recs, end, err := decodeRecords(b)
		if err != nil && i < len(firsts)-1 {
			return 0, fmt.Errorf("audit: journal segment %s damaged at byte %d (%w); it is not the newest, so entries would be lost: refusing to start", j.segmentPath(first), end, err)
		}
		if err != nil {
			j.log.Warn("audit: journal ends in a record cut short (never acknowledged); ignoring it", "segment", filepath.Base(j.segmentPath(first)), "offset", end)
		}
		for _, r := range recs {
			if r.lsn <= last {
				if r.lsn <= applied {
					continue
				}
				return 0, fmt.Errorf("audit: journal: record %d out of order in %s", r.lsn, j.segmentPath(first))
			}
			last = r.lsn
			batch = append(batch, r)
			replayed++
			if len(batch) == maxApplyBatch {
				if err := flush(); err != nil {
					return 0, err
				}
			}
		}
	}
	if err := flush(); err != nil {
		return 0, err
	}
	if replayed > 0 {
		j.log.Info("audit: journal records applied at start", "records", replayed)
	}
	for _, first := range firsts {
		if err := os.Remove(j.segmentPath(first)); err != nil {
			return 0, fmt.Errorf("audit: journal: %w", err)
		}
	}
	return last, nil
}

func appliedLSN(ctx context.Context, store kv.Store) (uint64, error) {
	v, err := store.Get(ctx, journalKey)
	if errors.Is(err, kv.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("audit: journal: %w", err)
	}
	n, err := strconv.ParseUint(string(v), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("audit: journal: bad %s: %w", journalKey, err)
	}
	return n, nil
}

// applyRecords writes recs' items, and the number of the last, in one
// store write.
func applyRecords(ctx context.Context, store kv.Store, recs []*jrec) error {
	n := 1
	for _, r := range recs {
		n += len(r.items)
	}
	items := make([]kv.Item, 0, n)
	for _, r := range recs {
		items = append(items, r.items...)
	}
	items = append(items, kv.Item{Key: journalKey, Value: strconv.AppendUint(nil, recs[len(recs)-1].lsn, 10)})
	return store.PutAll(ctx, items)
}

// offer queues items as the next record and returns it; wait on
// r.durable. Callers that need records in an order offer them in that
// order (under their own lock).
func (j *journal) offer(items []kv.Item, applied func()) (*jrec, error) {
	r := &jrec{items: items, durable: make(chan error, 1), applied: applied}
	j.mu.Lock()
	switch {
	case j.broken != nil:
		j.mu.Unlock()
		return nil, j.broken
	case j.closing:
		j.mu.Unlock()
		return nil, errJournalClosed
	}
	r.lsn = j.next
	j.next++
	j.queue = append(j.queue, r)
	j.mu.Unlock()
	select {
	case j.wake <- struct{}{}:
	default:
	}
	return r, nil
}

// maxSyncs bounds the journal syncs in flight at once.
const maxSyncs = 2

// hedgeAfter is how long a sync may run before the writer writes the
// records that arrived meanwhile and starts a second sync for them,
// instead of having them wait for the first to end. A record written
// before a sync starts is covered by it, so a sync that ends makes every
// record written before it started durable, whichever of the two ends
// first. On a shared machine a sync that usually takes 0.2 ms now and
// then takes several; this bounds what it costs the records behind it,
// for one more sync only when a sync is slow. A variable for tests.
var hedgeAfter = time.Millisecond

// writer writes what is queued, all of it at once, and starts its sync:
// the next batch when the last sync ends, or earlier when that sync has
// run for hedgeAfter (at most maxSyncs in flight). It runs until Close.
func (j *journal) writer() {
	defer close(j.wrote)
	var buf []byte
	var hedge *time.Timer
	for {
		j.mu.Lock()
		n, closing, inflight := len(j.queue), j.closing, j.inflight
		since := time.Since(j.syncStart)
		if n == 0 || inflight >= maxSyncs || (inflight > 0 && since < hedgeAfter) {
			j.mu.Unlock()
			if n == 0 && closing && inflight == 0 {
				if j.f != nil {
					j.f.Close()
				}
				return
			}
			var hedged <-chan time.Time
			if n > 0 && inflight < maxSyncs {
				if hedge == nil {
					hedge = time.NewTimer(hedgeAfter - since)
				} else {
					hedge.Reset(hedgeAfter - since)
				}
				hedged = hedge.C
			}
			select {
			case <-j.wake:
			case <-j.synced:
			case <-hedged:
			}
			continue
		}
		batch := j.queue
		j.queue = nil
		j.mu.Unlock()

		buf = buf[:0]
		for _, r := range batch {
			buf = appendRecord(buf, r)
		}
		if j.f == nil || j.off+int64(len(buf)) > j.segSize {
			// A sync of the new segment does not cover the old one's
			// records: let the old one's syncs end first.
			j.waitSyncs()
		}
		err := j.write(buf, batch[0].lsn)
		j.mu.Lock()
		if err != nil {
			j.fail(err)
		}
		if j.broken != nil {
			failed := append(batch, j.takeUndurable()...)
			err = j.broken
			j.mu.Unlock()
			for _, r := range failed {
				r.durable <- err
			}
			continue
		}
		j.syncing = append(j.syncing, batch...)
		j.inflight++
		j.syncStart = time.Now()
		j.mu.Unlock()
		go j.sync(j.f, batch[len(batch)-1].lsn)
	}
}

// waitSyncs waits until no sync is in flight.
func (j *journal) waitSyncs() {
	for {
		j.mu.Lock()
		n := j.inflight
		j.mu.Unlock()
		if n == 0 {
			return
		}
		<-j.synced
	}
}

// sync syncs f, to which the records up to last are written, and then
// answers the records it made durable.
func (j *journal) sync(f *os.File, last uint64) {
	start := time.Now()
	err := f.Sync()
	if j.observe != nil {
		j.observe(time.Since(start))
	}
	j.mu.Lock()
	j.inflight--
	var done []*jrec
	if err != nil {
		j.fail(err)
	}
	if j.broken != nil {
		err = j.broken
		done = j.takeUndurable()
	} else if last > j.durable {
		i := 0
		for i < len(j.syncing) && j.syncing[i].lsn <= last {
			i++
		}
		done = j.syncing[:i:i]
		j.syncing = j.syncing[i:]
		j.durable = last
		j.toApply = append(j.toApply, done...)
	}
	j.mu.Unlock()
	for _, r := range done {
		r.durable <- err
	}
	if err == nil && len(done) > 0 {
		select {
		case j.applyWake <- struct{}{}:
		default:
		}
	}
	select {
	case j.synced <- struct{}{}:
	default:
	}
}

// err returns the error that broke the journal, or nil.
func (j *journal) err() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.broken
}

// fail breaks the journal with err, if it is not broken yet. The caller
// holds mu.
func (j *journal) fail(err error) {
	if j.broken == nil {
		j.broken = fmt.Errorf("audit: the journal could not be written; the access log takes no entries until restart: %w", err)
		j.log.Error("audit: journal write failed; refusing entries", "error", err)
	}
}

// takeUndurable removes and returns the records written or queued but
// not durable, which a broken journal answers with its error. The caller
// holds mu.
func (j *journal) takeUndurable() []*jrec {
	out := append(j.syncing, j.queue...)
	j.syncing, j.queue = nil, nil
	return out
}

// write appends buf, whose first record is first, to the current
// segment, or to a new one when it does not fit; the caller syncs it.
func (j *journal) write(buf []byte, first uint64) error {
	if j.f == nil || j.off+int64(len(buf)) > j.segSize {
		if err := j.rotate(first, int64(len(buf))); err != nil {
			return err
		}
	}
	if _, err := j.f.WriteAt(buf, j.off); err != nil {
		return err
	}
	j.off += int64(len(buf))
	return nil
}

// rotate starts a segment whose first record is first.
func (j *journal) rotate(first uint64, need int64) error {
	if j.f != nil {
		j.f.Close()
		j.f = nil
	}
	f, err := os.OpenFile(j.segmentPath(first), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if err := f.Truncate(max(j.segSize, need)); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if d, err := os.Open(j.dir); err == nil {
		err = d.Sync()
		d.Close()
		if err != nil {
			f.Close()
			return err
		}
	}
	j.f, j.off = f, 0
	j.segMu.Lock()
	j.segments = append(j.segments, first)
	j.segMu.Unlock()
	return nil
}

// applier writes synced records to the store, as many at once as are
// waiting, retrying until it succeeds or the journal closes; what it
// cannot write stays in the journal for the next start.
func (j *journal) applier(store kv.Store, onApplied func(uint64)) {
	defer close(j.appDone)
	backoff := 50 * time.Millisecond
	var last time.Time // when the last write started
	for {
		j.mu.Lock()
		batch := j.toApply
		if len(batch) > maxApplyBatch {
			batch = batch[:maxApplyBatch:maxApplyBatch]
		}
		j.mu.Unlock()
		if wait := time.Until(last.Add(applyInterval)); len(batch) > 0 && len(batch) < maxApplyBatch && wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-j.hurry:
			case <-j.wrote:
			}
			t.Stop()
			last = time.Time{}
			continue
		}
		if len(batch) == 0 {
			select {
			case <-j.applyWake:
			case <-j.wrote: // the writer ended: apply what it left, then stop
				j.mu.Lock()
				empty := len(j.toApply) == 0
				j.mu.Unlock()
				if empty {
					return
				}
			}
			continue
		}
		last = time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := applyRecords(ctx, store, batch)
		cancel()
		if err != nil {
			j.log.Error("audit: journal records not applied to the store yet; retrying", "records", len(batch), "error", err)
			select {
			case <-time.After(backoff):
			case <-j.wrote:
				if j.isClosing() {
					return // left in the journal: applied at the next start
				}
			}
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		backoff = 50 * time.Millisecond
		last := batch[len(batch)-1].lsn
		j.mu.Lock()
		j.toApply = j.toApply[len(batch):]
		j.applied = last
		close(j.appliedCh)
		j.appliedCh = make(chan struct{})
		j.mu.Unlock()
		onApplied(last)
		for _, r := range batch {
			if r.applied != nil {
				r.applied()
			}
		}
		j.dropApplied(last)
	}
}

func (j *journal) isClosing() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.closing
}

// dropApplied removes the segments, other than the newest, whose records
// are all applied (up to last).
func (j *journal) dropApplied(last uint64) {
	j.segMu.Lock()
	defer j.segMu.Unlock()
	for len(j.segments) > 1 && j.segments[1]-1 <= last {
		if err := os.Remove(j.segmentPath(j.segments[0])); err != nil {
			j.log.Warn("audit: could not remove an applied journal segment", "error", err)
			return
		}
		j.segments = j.segments[1:]
	}
}

// hurryUp has the applier write what it has now.
func (j *journal) hurryUp() {
	select {
	case j.hurry <- struct{}{}:
	default:
	}
}

// settle waits until every record synced so far is in the store.
func (j *journal) settle(ctx context.Context) error {
	j.mu.Lock()
	target := j.durable
	j.mu.Unlock()
	return j.waitApplied(ctx, target)
}

// waitApplied waits until record lsn is in the store.
func (j *journal) waitApplied(ctx context.Context, lsn uint64) error {
	for {
		j.mu.Lock()
		applied, ch := j.applied, j.appliedCh
		j.mu.Unlock()
		if applied >= lsn {
			return nil
		}
		j.hurryUp()
		select {
		case <-ch:
		case <-j.appDone:
			j.mu.Lock()
			applied = j.applied
			j.mu.Unlock()
			if applied >= lsn {
				return nil
			}
			return errors.New("audit: the access log closed before the entries reached the store")
		case <-ctx.Done():
			return fmt.Errorf("audit: waiting for the journal to reach the store: %w", ctx.Err())
		}
	}
}

// close stops taking records, writes and applies what was taken, and
// returns once that is done or ctx ends.
func (j *journal) close(ctx context.Context) error {
	j.mu.Lock()
	j.closing = true
	j.mu.Unlock()
	select {
	case j.wake <- struct{}{}:
	default:
	}
	select {
	case <-j.appDone:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("audit: journal records not yet applied at close (they are at the next start): %w", ctx.Err())
	}
}

// appendRecord appends r's encoding to b.
func appendRecord(b []byte, r *jrec) []byte {
	start := len(b)
	b = append(b, 0, 0, 0, 0, 0, 0, 0, 0) // length and CRC, filled in below
	b = binary.BigEndian.AppendUint64(b, r.lsn)
	b = binary.AppendUvarint(b, uint64(len(r.items)))
	for _, it := range r.items {
		var flags byte
		if it.Delete {
			flags = 1
		}
		b = append(b, flags)
		b = binary.AppendUvarint(b, uint64(len(it.Key)))
		b = append(b, it.Key...)
		b = binary.AppendUvarint(b, uint64(max(it.TTL, 0)))
		b = binary.AppendUvarint(b, uint64(len(it.Value)))
		b = append(b, it.Value...)
	}
	payload := b[start+8:]
	binary.BigEndian.PutUint32(b[start:], uint32(len(payload)))
	binary.BigEndian.PutUint32(b[start+4:], crc32.Checksum(payload, crcTable))
	return b
}

// errTorn says where a segment's records stop making sense.
var errTorn = errors.New("record cut short or damaged")

// decodeRecords parses a segment's records up to the first zero length
// (the preallocated end). It returns the records before any damage, the
// offset where it stopped and, for damage, errTorn.
func decodeRecords(b []byte) ([]*jrec, int, error) {
	var recs []*jrec
	off := 0
	for off+8 <= len(b) {
		n := int(binary.BigEndian.Uint32(b[off:]))
		if n == 0 {
			return recs, off, nil
		}
		if n > len(b)-off-8 {
			return recs, off, errTorn
		}
		payload := b[off+8 : off+8+n]
		if crc32.Checksum(payload, crcTable) != binary.BigEndian.Uint32(b[off+4:]) {
			return recs, off, errTorn
		}
		r, err := decodePayload(payload)
		if err != nil {
			return recs, off, err
		}
		recs = append(recs, r)
		off += 8 + n
	}
	return recs, off, nil
}

func decodePayload(p []byte) (*jrec, error) {
	bad := fmt.Errorf("%w: malformed payload", errTorn)
	if len(p) < 8 {
		return nil, bad
	}
	r := &jrec{lsn: binary.BigEndian.Uint64(p)}
	p = p[8:]
	count, k := binary.Uvarint(p)
	if k <= 0 || count > uint64(len(p)) {
		return nil, bad
	}
	p = p[k:]
	uv := func() (uint64, bool) {
		v, k := binary.Uvarint(p)
		if k <= 0 {
			return 0, false
		}
		p = p[k:]
		return v, true
	}
	r.items = make([]kv.Item, 0, count)
	for range count {
		if len(p) < 1 {
			return nil, bad
		}
		it := kv.Item{Delete: p[0]&1 != 0}
		p = p[1:]
		kl, ok := uv()
		if !ok || kl > uint64(len(p)) {
			return nil, bad
		}
		it.Key, p = string(p[:kl]), p[kl:]
		ttl, ok := uv()
		if !ok || ttl > 1<<62 {
			return nil, bad
		}
		it.TTL = time.Duration(ttl)
		vl, ok := uv()
		if !ok || vl > uint64(len(p)) {
			return nil, bad
		}
		it.Value, p = append([]byte{}, p[:vl]...), p[vl:]
		r.items = append(r.items, it)
	}
	if len(p) != 0 {
		return nil, bad
	}
	return r, nil
}
