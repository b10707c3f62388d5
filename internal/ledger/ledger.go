package ledger

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/api/layout"
	"github.com/transparency-dev/tessera/storage/posix"
	"golang.org/x/mod/sumdb/note"
)

var (
	// ErrLocked is returned by Open when another Log (in this process or
	// another) holds the directory.
	ErrLocked = errors.New("ledger: log directory is locked by another appender")
	// ErrClosed is returned by Append after Close.
	ErrClosed = errors.New("ledger: log closed")
	// ErrPushback is returned by Append when too many appends are in
	// flight. It is transient: callers answer 503 with Retry-After.
	ErrPushback = errors.New("ledger: too many appends in flight, retry later")
	// ErrEntryTooLarge is returned for entries that tlog-tiles entry bundles
	// cannot hold (more than MaxEntrySize bytes).
	ErrEntryTooLarge = errors.New("ledger: entry too large")
	// ErrNotFound is returned for log resources that do not exist.
	ErrNotFound = errors.New("ledger: not found")
	// ErrKeyMismatch is returned by Open when the directory holds a log whose
	// checkpoint is not signed by the configured key and origin.
	ErrKeyMismatch = errors.New("ledger: existing log was signed by a different key or origin")
)

// MaxEntrySize is the largest entry a tlog-tiles entry bundle can hold (its
// length prefix is 16 bits).
const MaxEntrySize = 1<<16 - 1

// defaultCloseTimeout bounds Close when its context has no deadline.
const defaultCloseTimeout = 5 * time.Second

// lockFileName is the flock file inside the log directory.
const lockFileName = ".medid.lock"

// Log is an open, appendable ledger. All methods are safe for concurrent use.
type Log struct {
	dir      string
	origin   string
	vkey     string
	verifier note.Verifier
	lock     *os.File

	add      tessera.AddFn
	shutdown func(context.Context) error
	reader   tessera.LogReader
	cancel   context.CancelFunc

	// mu guards closed against Append's in-flight accounting, so Close
	// sees every append that got past the closed check.
	mu             sync.RWMutex
	closed         bool
	inflight       sync.WaitGroup
	outstanding    atomic.Int64
	maxOutstanding int64
	// The groups waiting for appendLoop, and its wake-up call.
	qmu   sync.Mutex
	queue []*group
	wake  chan struct{}
	// nextSeq is one more than the highest index sequenced through this
	// Log, or 0 if none was.
	nextSeq atomic.Uint64

	closeOnce sync.Once
	closeErr  error

	cpMu sync.Mutex
	cp   atomic.Pointer[cachedCheckpoint]

	proofs *lru.Cache[proofKey, [][]byte]
	tiles  *lru.Cache[tileKey, *expandedTile]

	stats counters
}

// Open opens (creating if needed) the log in cfg.Dir and starts appending.
// It fails with ErrLocked at once if another Log holds the directory, and
// with ErrKeyMismatch if the directory's log was signed by another key.
// ctx bounds only the opening; the Log runs until Close.
func Open(ctx context.Context, cfg Config) (*Log, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	pub, err := publicKey(cfg.Signer)
	if err != nil {
		return nil, err
	}
	signer, err := NewNoteSigner(cfg.Origin, cfg.Signer)
	if err != nil {
		return nil, err
	}
	vkey, err := VerifierKey(cfg.Origin, pub)
	if err != nil {
		return nil, err
	}
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, fmt.Errorf("ledger: verifier: %w", err)
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("ledger: create log directory: %w", err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			_ = lock.Close()
		}
	}()

	// Refuse a directory whose log another key signed before tessera starts
	// publishing checkpoints over it.
	raw, err := os.ReadFile(filepath.Join(dir, layout.CheckpointPath))
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("ledger: read existing checkpoint: %w", err)
	default:
		if _, err := verifyCheckpoint(raw, verifier); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrKeyMismatch, dir, err)
		}
	}

	driver, err := posix.New(ctx, posix.Config{Path: dir})
	if err != nil {
		return nil, fmt.Errorf("ledger: posix driver: %w", err)
	}
	opts := tessera.NewAppendOptions().
		WithCheckpointSigner(signer).
		WithBatching(cfg.BatchMaxSize, cfg.BatchMaxAge).
		WithCheckpointInterval(cfg.CheckpointInterval).
		WithCheckpointRepublishInterval(CheckpointRepublishInterval)
	// Garbage collection of obsolete partial tiles keeps tessera's default
	// (once a minute); readers fall back to full tiles.

	// The appender's background work must outlive ctx (often a request or
	// startup context) and stop only in Close.
	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	appender, shutdown, reader, err := tessera.NewAppender(bg, driver, opts)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("ledger: appender: %w", err)
	}
	// lru.New fails only for a non-positive size.
	proofs, _ := lru.New[proofKey, [][]byte](proofCacheSize)
	tiles, _ := lru.New[tileKey, *expandedTile](tileCacheSize)
	ok = true
	l := &Log{
		dir:            dir,
		origin:         cfg.Origin,
		vkey:           vkey,
		verifier:       verifier,
		lock:           lock,
		add:            appender.Add,
		shutdown:       shutdown,
		reader:         reader,
		cancel:         cancel,
		maxOutstanding: int64(cfg.MaxOutstanding),
		proofs:         proofs,
		tiles:          tiles,
		wake:           make(chan struct{}, 1),
	}
	go l.appendLoop(bg)
	return l, nil
}

// Origin returns the log's checkpoint origin line.
func (l *Log) Origin() string { return l.origin }

// VerifierKey returns the note verifier key that checks the log's
// checkpoints ("origin+hash+base64key").
func (l *Log) VerifierKey() string { return l.vkey }

// Append adds data as one entry and returns its index once it is durably
// sequenced and integrated: the return is the acknowledgement. A checkpoint
// covering it follows within 2 s (see AwaitCheckpoint).
//
// It returns ErrPushback when too many appends are in flight, ErrClosed after
// Close, and ctx's error if ctx ends first (the entry may still be
// sequenced). Append copies data.
func (l *Log) Append(ctx context.Context, data []byte) (uint64, error) {
	idx, err := l.AppendAll(ctx, [][]byte{data})
	if err != nil {
		return 0, err
	}
	return idx[0], nil
}

// AppendAll adds each of data as an entry, in order, and returns their
// indexes once all are durably sequenced and integrated. It is Append for
// many entries at once: one call, one wait. Entries are sequenced in the
// order given but need not be adjacent.
//
// On error no index is returned; as with Append, some of the entries may
// still have been sequenced (a failed batch, or ctx ending first). Too
// many entries for the log's MaxOutstanding at once is ErrPushback.
func (l *Log) AppendAll(ctx context.Context, data [][]byte) ([]uint64, error) {
	if len(data) == 0 {
		return nil, nil
	}
	for _, d := range data {
		if len(d) > MaxEntrySize {
			return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrEntryTooLarge, len(d), MaxEntrySize)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	n := int64(len(data))
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return nil, ErrClosed
	}
	if l.outstanding.Add(n) > l.maxOutstanding {
		l.outstanding.Add(-n)
		l.mu.RUnlock()
		l.stats.pushbacks.Add(uint64(n))
		return nil, ErrPushback
	}
	l.inflight.Add(1)
	g := &group{entries: make([]*tessera.Entry, len(data)), done: make(chan groupResult, 1)}
	for i, d := range data {
		g.entries[i] = tessera.NewEntry(bytes.Clone(d))
	}
	l.qmu.Lock()
	l.queue = append(l.queue, g)
	l.qmu.Unlock()
	l.mu.RUnlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
	// The group is appended whatever ctx does; it stays accounted for
	// (and Close waits for it) until it is.
	select {
	case r := <-g.done:
		return r.idx, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// A group is one AppendAll call's entries.
type group struct {
	entries []*tessera.Entry
	done    chan groupResult // buffered: the appender never waits on a caller
}

type groupResult struct {
	idx []uint64
	err error
}

// appendLoop is the log's group commit: it hands every queued group to
// tessera at once, waits until all are sequenced, and only then takes
// the groups that queued meanwhile. So batches grow with the load: an
// idle log sequences an entry within a batch age, and a busy one writes
// each batch's bundles and tiles once for as many entries as arrived
// during the previous batch, rather than once per batch age (tessera
// does not merge batches that queue behind a slow write, so at small
// batch ages its backlog grows without bound under load).
func (l *Log) appendLoop(ctx context.Context) {
	for {
		select {
		case <-l.wake:
		case <-ctx.Done():
			return
		}
		for {
			l.qmu.Lock()
			gs := l.queue
			l.queue = nil
			l.qmu.Unlock()
			if len(gs) == 0 {
				break
			}
			l.appendGroups(ctx, gs)
		}
	}
}

// appendGroups appends gs's entries, in order, and answers each group.
func (l *Log) appendGroups(ctx context.Context, gs []*group) {
	futures := make([][]tessera.IndexFuture, len(gs))
	for i, g := range gs {
		futures[i] = make([]tessera.IndexFuture, len(g.entries))
		for j, e := range g.entries {
			futures[i][j] = l.add(ctx, e)
		}
	}
	for i, g := range gs {
		r := groupResult{idx: make([]uint64, len(g.entries))}
		for j, f := range futures[i] {
			idx, err := f()
			if err != nil {
				l.stats.appendErrors.Add(1)
				if r.err == nil {
					if errors.Is(err, tessera.ErrPushback) {
						r.err = fmt.Errorf("%w: %v", ErrPushback, err)
					} else {
						r.err = fmt.Errorf("ledger: append: %w", err)
					}
				}
				continue
			}
			l.stats.appended.Add(1)
			r.idx[j] = idx.Index
			for next := idx.Index + 1; ; {
				cur := l.nextSeq.Load()
				if cur >= next || l.nextSeq.CompareAndSwap(cur, next) {
					break
				}
			}
		}
		if r.err != nil {
			r.idx = nil
		}
		l.outstanding.Add(-int64(len(g.entries)))
		g.done <- r
		l.inflight.Done()
	}
}

// IntegratedSize returns the number of entries sequenced and integrated into
// the tree, which may be ahead of the latest published checkpoint.
func (l *Log) IntegratedSize(ctx context.Context) (uint64, error) {
	n, err := l.reader.IntegratedSize(ctx)
	if err != nil {
		return 0, fmt.Errorf("ledger: integrated size: %w", err)
	}
	return n, nil
}

// Close stops appending, waits (bounded by ctx, or 5 s if ctx has no
// deadline) until every sequenced entry is covered by a published
// checkpoint, then releases the directory. It is idempotent: later calls
// return the first call's result. Reads keep working after Close.
func (l *Log) Close(ctx context.Context) error {
	l.closeOnce.Do(func() { l.closeErr = l.close(ctx) })
	return l.closeErr
}

func (l *Log) close(ctx context.Context) (err error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultCloseTimeout)
		defer cancel()
	}
	defer func() {
		// Stop tessera's background work, then let the next appender in.
		l.cancel()
		if cerr := l.lock.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("ledger: release lock: %w", cerr)
		}
	}()

	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()

	// Appends that got past the closed check finish within a batch age.
	waited := make(chan struct{})
	go func() { l.inflight.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-ctx.Done():
		return fmt.Errorf("ledger: close: waiting for in-flight appends: %w", ctx.Err())
	}

	if err := l.shutdown(ctx); err != nil {
		return fmt.Errorf("ledger: close: appender shutdown: %w", err)
	}
	// tessera's shutdown returns at once when only index 0 was issued, so
	// wait for the covering checkpoint ourselves in every case.
	if next := l.nextSeq.Load(); next > 0 {
		if _, err := l.AwaitCheckpoint(ctx, next-1); err != nil {
			return fmt.Errorf("ledger: close: %w", err)
		}
	}
	return nil
}

// Stats are counters since Open.
type Stats struct {
	// Appended counts acknowledged appends.
	Appended uint64
	// AppendErrors counts appends the log failed to sequence.
	AppendErrors uint64
	// Pushbacks counts appends refused with ErrPushback.
	Pushbacks uint64
	// Outstanding is the number of appends in flight now.
	Outstanding int64
	// ProofCacheHits and ProofCacheMisses count InclusionProof lookups.
	ProofCacheHits, ProofCacheMisses uint64
	// TileReads counts hash tiles read from disk for proofs.
	TileReads uint64
	// CheckpointReads counts reads of the checkpoint file.
	CheckpointReads uint64
}

type counters struct {
	appended, appendErrors, pushbacks atomic.Uint64
	proofHits, proofMisses, tileReads atomic.Uint64
	checkpointReads                   atomic.Uint64
}

// Stats returns the log's counters.
func (l *Log) Stats() Stats {
	return Stats{
		Appended:         l.stats.appended.Load(),
		AppendErrors:     l.stats.appendErrors.Load(),
		Pushbacks:        l.stats.pushbacks.Load(),
		Outstanding:      l.outstanding.Load(),
		ProofCacheHits:   l.stats.proofHits.Load(),
		ProofCacheMisses: l.stats.proofMisses.Load(),
		TileReads:        l.stats.tileReads.Load(),
		CheckpointReads:  l.stats.checkpointReads.Load(),
	}
}
