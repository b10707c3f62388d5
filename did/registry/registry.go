// Package registry implements did:medid, medid's ledger-backed DID method:
// operations signed by keys the current state authorises, appended to the
// Merkle log, and an index of DID states derived from that log.
//
// The log is the source of truth. The index (kept in a kv.Store) can be
// rebuilt from scratch by replaying the log with Rebuild; Apply is the single
// function that decides whether an operation is valid, used both before an
// operation is appended and when the log is replayed.
//
// The method is specified in docs/did-medid.md.
package registry

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"hash/fnv"
	"iter"
	"log/slog"
	"strconv"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/medid/medid/did"
	"github.com/medid/medid/internal/kv"
	"github.com/medid/medid/internal/ledger"
)

// Ledger is what the registry needs of the log.
type Ledger interface {
	Append(ctx context.Context, data []byte) (uint64, error)
	Checkpoint(ctx context.Context) (ledger.Checkpoint, error)
	InclusionProof(ctx context.Context, index, treeSize uint64) ([][]byte, error)
	IntegratedSize(ctx context.Context) (uint64, error)
	Entries(ctx context.Context, from, to uint64) iter.Seq2[ledger.Entry, error]
	Origin() string
}

// Registry is the did:medid method: it accepts operations and resolves DIDs.
type Registry struct {
	log Ledger
	idx index
	// versions caches decoded versions and their parsed documents by
	// version key: a version never changes once the state counts it.
	versions *lru.Cache[string, *decodedVersion]
	now      func() time.Time
	logger   *slog.Logger
	// locks serialise operations per DID; far more stripes than concurrent
	// writers, so unrelated DIDs rarely wait for each other's append.
	locks [4096]sync.Mutex
}

// Options configures a Registry.
type Options struct {
	// Now is the clock (time.Now when nil).
	Now    func() time.Time
	Logger *slog.Logger
}

// New returns a registry over log whose index lives in store.
func New(log Ledger, store kv.Store, opts Options) *Registry {
	cache, _ := lru.New[string, *decodedVersion](8192)
	r := &Registry{log: log, now: opts.Now, logger: opts.Logger, versions: cache}
	r.idx = index{kv: store, written: func(key string) { cache.Remove(key) }}
	if r.now == nil {
		r.now = time.Now
	}
	if r.logger == nil {
		r.logger = slog.Default()
	}
	return r
}

func (r *Registry) lock(d string) func() {
	h := fnv.New32a()
	h.Write([]byte(d))
	m := &r.locks[h.Sum32()%uint32(len(r.locks))]
	m.Lock()
	return m.Unlock
}

// Name implements did.Method.
func (r *Registry) Name() string { return Method }

// State returns the current state of d, or kv.ErrNotFound.
func (r *Registry) State(ctx context.Context, d did.DID) (*State, error) {
	st, _, err := r.idx.state(ctx, d.String())
	return st, err
}

// ValidID reports whether id is a well-formed did:medid method-specific
// identifier: the unpadded lowercase base32 of a SHA-256 digest.
func ValidID(id string) bool {
	if len(id) != 52 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			return false
		}
	}
	return true
}

// Result of a submitted operation.
type Result struct {
	DID      did.DID
	State    *State
	Version  *Version
	LogIndex uint64
}

// Submit validates op against the current state and, only if it is valid,
// appends it to the log and updates the index. It returns once the
// operation has a log index. An *OpError or ErrDeactivated reports a
// rejected operation; nothing was appended then.
func (r *Registry) Submit(ctx context.Context, op *SignedOp) (*Result, error) {
	subject, err := SubjectOf(op)
	if err != nil {
		return nil, opErr("did", "%v", err)
	}
	unlock := r.lock(subject.String())
	defer unlock()
	cur, raw, err := r.idx.state(ctx, subject.String())
	if err != nil && !errors.Is(err, kv.ErrNotFound) {
		return nil, err
	}
	// Whole seconds: version times are what clients compare versionTime and
	// credential iat values (RFC 3339 / NumericDate seconds) against.
	at := r.now().UTC().Truncate(time.Second)
	if cur != nil && at.Before(cur.Updated) {
		at = cur.Updated // keep versions ordered in time even if the clock steps back
	}
	entry, err := EncodeEntry(op, at)
	if err != nil {
		return nil, err
	}
	st, v, err := Apply(cur, op, 0, at, entry)
	if err != nil {
		return nil, err
	}
	i, err := r.log.Append(ctx, entry)
	if err != nil {
		return nil, fmt.Errorf("registry: append: %w", err)
	}
	st.LastIndex, v.Index = i, i
	if err := r.idx.commit(ctx, st, v, raw); err != nil {
		// The operation is in the log; replay (CatchUp) will index it.
		return nil, &NotIndexedError{Index: i, Err: err}
	}
	r.logger.DebugContext(ctx, "did operation appended", "did", subject.String(), "op", op.Op.Type,
		"version", v.Version, "log_index", i)
	return &Result{DID: subject, State: st, Version: v, LogIndex: i}, nil
}

// NotIndexedError reports an operation that is in the log (it happened)
// but whose index update failed; the next CatchUp applies it.
type NotIndexedError struct {
	Index uint64
	Err   error
}

func (e *NotIndexedError) Error() string {
	return fmt.Sprintf("registry: operation appended at index %d but not indexed (catch-up will apply it): %v", e.Index, e.Err)
}

// Unwrap returns the index failure.
func (e *NotIndexedError) Unwrap() error { return e.Err }

// CatchUp applies every log entry from the index's cursor to the log's
// integrated size, skipping ones already applied and ignoring invalid ones,
// and returns how many it applied.
func (r *Registry) CatchUp(ctx context.Context) (int, error) {
	from, err := r.idx.cursor(ctx)
	if err != nil {
		return 0, err
	}
	size, err := r.log.IntegratedSize(ctx)
	if err != nil {
		return 0, err
	}
	applied := 0
	for e, err := range r.log.Entries(ctx, from, size) {
		if err != nil {
			return applied, fmt.Errorf("registry: replay at %d: %w", from, err)
		}
		ok, err := r.replay(ctx, e)
		if err != nil {
			return applied, err
		}
		if ok {
			applied++
		}
	}
	if err := r.idx.setCursor(ctx, size); err != nil {
		return applied, err
	}
	return applied, nil
}

func (r *Registry) replay(ctx context.Context, e ledger.Entry) (bool, error) {
	op, at, ok, err := DecodeEntry(e.Data)
	if !ok {
		return false, nil
	}
	if err != nil {
		r.logger.WarnContext(ctx, "ignoring malformed ledger entry", "log_index", e.Index, "error", err)
		return false, nil
	}
	subject, err := SubjectOf(op)
	if err != nil {
		r.logger.WarnContext(ctx, "ignoring ledger entry without subject", "log_index", e.Index)
		return false, nil
	}
	unlock := r.lock(subject.String())
	defer unlock()
	cur, raw, err := r.idx.state(ctx, subject.String())
	if err != nil && !errors.Is(err, kv.ErrNotFound) {
		return false, err
	}
	if cur != nil && cur.LastIndex >= e.Index {
		return false, nil // already applied
	}
	st, v, err := Apply(cur, op, e.Index, at, e.Data)
	if err != nil {
		r.logger.WarnContext(ctx, "ignoring invalid operation in the log", "log_index", e.Index, "did", subject.String(), "error", err)
		return false, nil
	}
	return true, r.idx.commit(ctx, st, v, raw)
}

// Rebuild discards the derived index and replays the whole log.
func (r *Registry) Rebuild(ctx context.Context) (int, error) {
	r.versions.Purge()
	if err := r.idx.clear(ctx); err != nil {
		return 0, err
	}
	return r.CatchUp(ctx)
}

// Resolve implements did.Method for did:medid.
func (r *Registry) Resolve(ctx context.Context, d did.DID, opts did.ResolutionOptions) (*did.Result, error) {
	if d.Method() != Method {
		return nil, did.ErrMethodNotSupported
	}
	if !ValidID(d.ID()) {
		return nil, fmt.Errorf("%w: a did:medid identifier is 52 lowercase base32 characters", did.ErrInvalidDID)
	}
	st, _, err := r.idx.state(ctx, d.String())
	if errors.Is(err, kv.ErrNotFound) {
		return nil, did.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	n := st.Version
	switch {
	case opts.VersionID != "":
		var perr error
		n, perr = strconv.Atoi(opts.VersionID)
		if perr != nil || n < 1 {
			return nil, fmt.Errorf("%w: versionId must be a positive integer", did.ErrInvalidOptions)
		}
		if n > st.Version {
			return nil, did.ErrNotFound
		}
	case !opts.VersionTime.IsZero():
		v, err := r.idx.versionAt(ctx, d.String(), opts.VersionTime, st.Version)
		if err != nil {
			if errors.Is(err, kv.ErrNotFound) {
				return nil, did.ErrNotFound
			}
			return nil, err
		}
		n = v.Version
	}
	dv, err := r.decoded(ctx, d.String(), n)
	if errors.Is(err, kv.ErrNotFound) {
		return nil, did.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	v := dv.v
	res := &did.Result{}
	doc := *dv.doc // a shallow copy: callers must treat documents as read-only
	res.Document = &doc
	created := st.Created
	md := did.DocumentMetadata{Created: &created, VersionID: strconv.Itoa(v.Version)}
	if v.Version > 1 {
		t := v.Time
		md.Updated = &t
	}
	if v.Version < st.Version {
		md.NextVersionID = strconv.Itoa(v.Version + 1)
		// nextUpdate (W3C DID Resolution): when the version that
		// replaced this one was made, so that a caller knows the span in
		// which this document was the DID's.
		next, err := r.decoded(ctx, d.String(), v.Version+1)
		if err != nil {
			return nil, err
		}
		t := next.v.Time
		md.NextUpdate = &t
	}
	md.Deactivated = v.Type == OpDeactivate
	md.LedgerProof, err = r.proof(ctx, v)
	if err != nil {
		return nil, err
	}
	res.DocumentMetadata = md
	return res, nil
}

// decodedVersion is a version with its document parsed.
type decodedVersion struct {
	v   *Version
	doc *did.Document
}

// decoded returns version n of d, decoded, from the cache or the index.
func (r *Registry) decoded(ctx context.Context, d string, n int) (*decodedVersion, error) {
	key := versionKey(d, n)
	if dv, ok := r.versions.Get(key); ok {
		return dv, nil
	}
	v, err := r.idx.version(ctx, d, n)
	if err != nil {
		return nil, err
	}
	doc := &did.Document{ID: d}
	if v.Document != nil {
		if err := doc.UnmarshalJSON(v.Document); err != nil {
			return nil, fmt.Errorf("registry: stored document of %s: %w", d, err)
		}
	}
	dv := &decodedVersion{v: v, doc: doc}
	r.versions.Add(key, dv)
	return dv, nil
}

// proof builds the ledger proof for v against the latest checkpoint. Before
// a checkpoint covers the entry (at most 2 s after the operation) the proof
// carries the entry and leaf hash only.
func (r *Registry) proof(ctx context.Context, v *Version) (*did.LedgerProof, error) {
	p := &did.LedgerProof{
		LogOrigin: r.log.Origin(),
		LogIndex:  v.Index,
		LeafHash:  base64.StdEncoding.EncodeToString(ledger.LeafHash(v.Entry)),
		Entry:     base64.StdEncoding.EncodeToString(v.Entry),
	}
	cp, err := r.log.Checkpoint(ctx)
	if err != nil || cp.Size <= v.Index {
		return p, nil
	}
	hashes, err := r.log.InclusionProof(ctx, v.Index, cp.Size)
	if err != nil {
		return nil, fmt.Errorf("registry: inclusion proof for %d at %d: %w", v.Index, cp.Size, err)
	}
	p.TreeSize = cp.Size
	p.InclusionProof = make([]string, len(hashes))
	for i, h := range hashes {
		p.InclusionProof[i] = base64.StdEncoding.EncodeToString(h)
	}
	p.Checkpoint = string(cp.Raw)
	return p, nil
}
