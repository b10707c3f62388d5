package audit

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math"
	mrand "math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/medid/medid/did"
	"github.com/medid/medid/internal/groupcommit"
	"github.com/medid/medid/internal/kv"
)

// Appender is what the log needs of the ledger: internal/ledger.Log's
// Append.
type Appender interface {
	Append(ctx context.Context, data []byte) (index uint64, err error)
	// AppendAll appends each of data, in order, and returns their
	// indexes; on error, none is known to be appended.
	AppendAll(ctx context.Context, data [][]byte) ([]uint64, error)
}

// Options configure a Service.
type Options struct {
	// Secret derives the patients' salts and pseudonyms: at least 32
	// random bytes, kept across restarts (a new secret gives every patient
	// new pseudonyms and breaks their chains). Required. Never logged.
	Secret []byte
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// AppendTimeout bounds one ledger append (default 10 s). The append
	// runs detached from the caller's context, so that a client hanging
	// up does not leave a leaf without its entry.
	AppendTimeout time.Duration
	// Logger receives operational messages (never entry contents); nil
	// means slog.Default().
	Logger *slog.Logger
	// SweepInterval is how often entries left pending by Log are looked
	// for and committed (default 30 s; the first sweep runs at New).
	SweepInterval time.Duration
	// MaxPending bounds the Log commitments queued or in flight (default
	// 4096); Log waits for a slot beyond it.
	MaxPending int
	// Journal, if set, is a directory for the access log's write-ahead
	// journal (see journal.go): Log and Record then wait for one journal
	// sync, shared with the entries that arrived meanwhile, instead of a
	// store commit, and the entries reach the store in the background
	// (reads wait for them). Only for a store that this process alone
	// writes, such as an embedded bbolt file: the patients' chain heads
	// are then kept in memory until stored.
	Journal string
	// ObserveSync, if set, receives the duration of each journal sync,
	// which every entry waits for: the first thing to look at when
	// verifications slow down. It runs on the journal's sync goroutine
	// and must be quick.
	ObserveSync func(time.Duration)
}

// Service is the access log.
type Service struct {
	store  kv.Store
	ledger Appender
	secret []byte
	now    func() time.Time
	tmo    time.Duration
	log    *slog.Logger
	// chains batch the chain updates of the patients of one stripe
	// within this process; compare-and-swap keeps instances sharing a
	// store apart.
	chains [64]chain
	// days are the day markers this process has written.
	days sync.Map

	// The background committer of Log's entries.
	slots      chan struct{} // one per commitment queued or in flight
	committing sync.Map      // entry id → true while queued or being committed here
	qmu        sync.Mutex
	queue      []toCommit
	wake       chan struct{}
	finishing  chan finishBatch
	finished   chan struct{} // closed when the finisher ends
	stop       chan struct{}
	closeOnce  sync.Once
	wg         sync.WaitGroup // the sweep

	// With a journal: the journal, and the chain heads written to it
	// but not yet stored (patient → head), under jmu, which also orders
	// the records.
	j     *journal
	jmu   sync.Mutex
	heads map[string]memHead
}

// memHead is a chain head written to the journal, and its record.
type memHead struct {
	raw []byte
	lsn uint64
}

// New returns the access log over store, committing to ledger.
func New(store kv.Store, ledger Appender, opts Options) (*Service, error) {
	switch {
	case store == nil:
		return nil, errors.New("audit: a store is required")
	case ledger == nil:
		return nil, errors.New("audit: a ledger is required")
	case len(opts.Secret) < 32:
		return nil, errors.New("audit: the secret must be at least 32 bytes")
	}
	s := &Service{store: store, ledger: ledger, secret: append([]byte(nil), opts.Secret...),
		now: opts.Now, tmo: opts.AppendTimeout, log: opts.Logger}
	if s.now == nil {
		s.now = time.Now
	}
	if s.tmo <= 0 {
		s.tmo = 10 * time.Second
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if opts.MaxPending <= 0 {
		opts.MaxPending = 4096
	}
	if opts.SweepInterval <= 0 {
		opts.SweepInterval = 30 * time.Second
	}
	if opts.Journal != "" {
		s.heads = map[string]memHead{}
		var err error
		if s.j, err = openJournal(context.Background(), opts.Journal, store, s.log, s.storedHeads, opts.ObserveSync); err != nil {
			return nil, err
		}
	}
	s.slots = make(chan struct{}, opts.MaxPending)
	s.stop = make(chan struct{})
	s.wake = make(chan struct{}, 1)
	s.finishing = make(chan finishBatch, 16)
	s.finished = make(chan struct{})
	go s.committer()
	go s.finisher()
	s.wg.Add(1)
	go s.sweep(opts.SweepInterval)
	return s, nil
}

// PatientSalt returns the patient's salt, from which the patient computes
// their pseudonym (PseudonymFrom). Give it only to the patient.
func (s *Service) PatientSalt(patient did.DID) []byte {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte("medid/audit/salt\x00"))
	m.Write([]byte(patient.String()))
	return m.Sum(nil)
}

// Pseudonym returns the patient's pseudonym.
func (s *Service) Pseudonym(patient did.DID) string {
	return PseudonymFrom(s.PatientSalt(patient), patient)
}

// Store keys.
const (
	entryPrefix   = "audit/e/" // audit/e/<day>/<inverted time>-<rand> → stored
	dayPrefix     = "audit/d/" // audit/d/<day> → "1": the days that have entries
	patientPrefix = "audit/p/" // audit/p/<pseudonym>/<inverted seq> → entry id
	headPrefix    = "audit/h/" // audit/h/<pseudonym> → head
	pendingPrefix = "audit/u/" // audit/u/<entry id> → a claim: the entry's commitment is not on the ledger yet
)

const dayLayout = "2006-01-02"

// stored is an entry as kept in the store.
type stored struct {
	ID         string          `json:"id"`
	Entry      json.RawMessage `json:"entry"` // Canonical(entry)
	Salt       []byte          `json:"salt"`
	Commitment string          `json:"commitment"`
	LeafIndex  *uint64         `json:"leaf_index,omitempty"`
	// Pending marks an entry logged with Log until its leaf index is
	// stored.
	Pending bool `json:"pending,omitempty"`
}

// head is the newest entry of a patient's chain.
type head struct {
	Seq        uint64 `json:"seq"`
	Commitment string `json:"commitment"`
}

// Recorded is what Record returns: where the entry is and what commits to
// it.
type Recorded struct {
	// ID identifies the entry in the log.
	ID string
	// Patient is the patient's pseudonym, "" if none.
	Patient string
	// Seq is the entry's position in the patient's chain.
	Seq uint64
	// Commitment is the salted commitment on the ledger.
	Commitment string
	// LeafIndex is the ledger index of the commitment's leaf.
	LeafIndex uint64
}

// ErrNotCommitted is wrapped by Record's error when the ledger append
// failed: the entry is not on the ledger, and the event must be treated as
// not logged.
var ErrNotCommitted = errors.New("audit: the entry could not be committed to the ledger")

// Record validates e, adds it to the patient's chain, stores it and
// appends its commitment to the ledger. It returns once the commitment has
// a ledger index. A non-nil error means the event was not logged (see the
// package doc for what is left behind when the ledger fails).
func (s *Service) Record(ctx context.Context, e Entry) (Recorded, error) {
	p, rec, err := s.stage(ctx, e, false)
	if err != nil {
		return Recorded{}, err
	}
	e = p.e
	id := rec.ID
	if s.j != nil {
		// The leaf index is written to the store below: the entry must
		// be there first.
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.tmo)
		err := s.j.waitApplied(wctx, p.lsn)
		cancel()
		if err != nil {
			return Recorded{}, fmt.Errorf("%w: %w", ErrNotCommitted, err)
		}
	}

	data, err := LedgerEntry(p.commitment, e.Time)
	if err != nil {
		s.undo(ctx, e, id, p.oldHead, p.newHead)
		return Recorded{}, err
	}
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.tmo)
	idx, err := s.ledger.Append(actx, data)
	cancel()
	if err != nil {
		s.undo(ctx, e, id, p.oldHead, p.newHead)
		return Recorded{}, fmt.Errorf("%w: %w", ErrNotCommitted, err)
	}
	rec.LeafIndex = &idx
	raw, err := json.Marshal(rec)
	if err != nil {
		return Recorded{}, err
	}
	if err := s.store.Put(context.WithoutCancel(ctx), entryPrefix+id, raw, 0); err != nil {
		// The leaf is on the ledger and the entry in the store, only
		// without its index: the patient can still find the leaf by
		// commitment. The event is logged.
		s.log.ErrorContext(ctx, "audit: could not store the leaf index", "entry", id, "leaf", idx, "error", err)
	}
	return Recorded{ID: id, Patient: e.Patient, Seq: e.Seq, Commitment: p.commitment, LeafIndex: idx}, nil
}

// prepare validates and normalises e for the log.
func (s *Service) prepare(e Entry) (Entry, error) {
	if err := e.check(); err != nil {
		return e, err
	}
	if e.Time.IsZero() {
		e.Time = s.now()
	}
	e.Time = e.Time.UTC()
	e.CredentialTypes, e.ClaimNames = normalise(e.CredentialTypes), normalise(e.ClaimNames)
	e.Scopes, e.Reasons = normalise(e.Scopes), normalise(e.Reasons)
	e.Seq, e.Prev = 0, ""
	if !e.PatientDID.IsZero() {
		e.Patient = s.Pseudonym(e.PatientDID)
	}
	e.PatientDID = did.DID{}
	return e, nil
}

// stage prepares e, gives it its place in the patient's chain and stores
// it, with a pending marker when its commitment is to be appended later.
func (s *Service) stage(ctx context.Context, e Entry, markPending bool) (*pending, stored, error) {
	e, err := s.prepare(e)
	if err != nil {
		return nil, stored{}, err
	}
	p := &pending{e: e, salt: make([]byte, SaltSize), markPending: markPending}
	if _, err := rand.Read(p.salt); err != nil {
		return nil, stored{}, err
	}
	if p.id, err = newID(e.Time); err != nil {
		return nil, stored{}, err
	}
	if s.j != nil {
		if err := s.stageJournaled(ctx, p); err != nil {
			return nil, stored{}, err
		}
		return p, p.record(), nil
	}
	if e.Patient != "" {
		// The chain's leader stores the entry with the head that points
		// to it, in one write.
		if err := s.link(ctx, p); err != nil {
			return nil, stored{}, err
		}
		return p, p.record(), nil
	}
	if err := p.seal(); err != nil {
		return nil, stored{}, err
	}
	rec := p.record()
	items, err := s.entryItems([]*pending{p})
	if err != nil {
		return nil, stored{}, err
	}
	if err := s.store.PutAll(ctx, items); err != nil {
		return nil, stored{}, err
	}
	s.daysWritten(items)
	return p, rec, nil
}

// pending is an entry waiting for its place in its patient's chain.
type pending struct {
	e           Entry
	salt        []byte
	id          string
	markPending bool
	// Set by the chain's leader: the entry's committed form, and the head
	// before and after it (for undo).
	canonical        []byte
	commitment       string
	oldHead, newHead []byte
	err              error
	// lsn is the entry's journal record, with a journal.
	lsn uint64
}

// seal sets p's canonical form and commitment, for its Seq and Prev.
func (p *pending) seal() error {
	c, err := Canonical(p.e)
	if err != nil {
		return err
	}
	p.canonical, p.commitment = c, commit(p.salt, c)
	return nil
}

// chainAfter gives p the place after head h in its chain (Seq and Prev),
// seals it, and returns the head that points to it.
func (p *pending) chainAfter(h head) (head, error) {
	p.e.Seq, p.e.Prev = h.Seq+1, h.Commitment
	if err := p.seal(); err != nil {
		return head{}, err
	}
	return head{Seq: p.e.Seq, Commitment: p.commitment}, nil
}

// parseHead decodes a stored chain head; nil is the empty chain's.
func parseHead(raw []byte) (head, error) {
	var h head
	if raw != nil {
		if err := json.Unmarshal(raw, &h); err != nil {
			return head{}, fmt.Errorf("audit: chain head: %w", err)
		}
	}
	return h, nil
}

// The entries of the patients of one stripe queue in a chain: one Record
// at a time leads, takes every queued entry, gives each patient's entries
// consecutive places, and stores each patient's entries together with the
// moved head in one conditional write (kv.Store.PutAllIf on the head).
// Concurrent records for one patient thus share one store commit instead
// of waiting for two each.
type chain = groupcommit.Queue[*pending]

// link gives p its place in its patient's chain: Seq, Prev, its canonical
// form and commitment, and the heads before and after it.
func (s *Service) link(ctx context.Context, p *pending) error {
	s.chains[stripe(p.e.Patient)].Do(p, func(batch []*pending) {
		s.advance(context.WithoutCancel(ctx), batch)
	})
	return p.err
}

// advance places the entries of batch, patient by patient, in arrival
// order.
func (s *Service) advance(ctx context.Context, batch []*pending) {
	var order []string
	groups := map[string][]*pending{}
	for _, q := range batch {
		if _, ok := groups[q.e.Patient]; !ok {
			order = append(order, q.e.Patient)
		}
		groups[q.e.Patient] = append(groups[q.e.Patient], q)
	}
	for _, patient := range order {
		s.advancePatient(ctx, patient, groups[patient])
	}
}

// advancePatient moves one patient's head past group with one
// compare-and-swap, retrying from the new head if another instance moved
// it first.
func (s *Service) advancePatient(ctx context.Context, patient string, group []*pending) {
	fail := func(err error) {
		for _, q := range group {
			if q.err == nil {
				q.err = err
			}
		}
	}
	for attempt := 0; ; attempt++ {
		if attempt == 32 {
			fail(errors.New("audit: the patient's chain kept changing; try again"))
			return
		}
		if attempt > 0 {
			// Another instance moved the head: back off a little.
			time.Sleep(time.Duration(mrand.IntN(1000*attempt)) * time.Microsecond)
		}
		oldHead, err := s.store.Get(ctx, headPrefix+patient)
		if errors.Is(err, kv.ErrNotFound) {
			oldHead, err = nil, nil
		}
		if err != nil {
			fail(err)
			return
		}
		h, err := parseHead(oldHead)
		if err != nil {
			fail(err)
			return
		}
		cur, placed := oldHead, 0
		for _, q := range group {
			q.err = nil
			next, err := q.chainAfter(h)
			if err != nil {
				q.err = err
				continue
			}
			h = next
			q.oldHead = cur
			q.newHead, _ = json.Marshal(h)
			cur = q.newHead
			placed++
		}
		if placed == 0 {
			return
		}
		var ok []*pending
		for _, q := range group {
			if q.err == nil {
				ok = append(ok, q)
			}
		}
		items, err := s.entryItems(ok)
		if err != nil {
			fail(err)
			return
		}
		items = append(items, kv.Item{Key: headPrefix + patient, Value: cur})
		err = s.store.PutAllIf(ctx, headPrefix+patient, oldHead, items)
		if errors.Is(err, kv.ErrConflict) {
			continue
		}
		if err != nil {
			fail(err)
			return
		}
		s.daysWritten(items)
		return
	}
}

// record is the stored form of a placed entry.
func (p *pending) record() stored {
	return stored{ID: p.id, Entry: p.canonical, Salt: p.salt, Commitment: p.commitment, Pending: p.markPending}
}

// entryItems are the writes that store placed entries: each entry, its
// patient index, its pending marker (Log) and, once a day per process,
// the day marker.
func (s *Service) entryItems(ps []*pending) ([]kv.Item, error) {
	items := make([]kv.Item, 0, 3*len(ps)+1)
	days := map[string]bool{}
	for _, p := range ps {
		raw, err := json.Marshal(p.record())
		if err != nil {
			return nil, err
		}
		items = append(items, kv.Item{Key: entryPrefix + p.id, Value: raw})
		if p.markPending {
			items = append(items, kv.Item{Key: pendingPrefix + p.id, Value: []byte(p.id)})
		}
		if p.e.Patient != "" {
			items = append(items, kv.Item{Key: patientKey(p.e.Patient, p.e.Seq), Value: []byte(p.id)})
		}
		day := p.e.Time.Format(dayLayout)
		if _, seen := s.days.Load(day); !seen && !days[day] {
			days[day] = true
			items = append(items, kv.Item{Key: dayPrefix + day, Value: []byte("1")})
		}
	}
	return items, nil
}

// daysWritten notes the day markers among items as written.
func (s *Service) daysWritten(items []kv.Item) {
	for _, it := range items {
		if day, ok := strings.CutPrefix(it.Key, dayPrefix); ok {
			s.days.Store(day, true)
		}
	}
}

// undo removes an entry whose commitment could not be appended, if it is
// still the newest of its patient's chain (the head is put back with
// compare-and-swap). If another entry was chained after it, the entry
// stays, without a leaf index, so that the chain is not broken.
func (s *Service) undo(ctx context.Context, e Entry, id string, oldHead, newHead []byte) {
	ctx = context.WithoutCancel(ctx)
	if s.j != nil {
		s.undoJournaled(ctx, e, id, oldHead, newHead)
		return
	}
	if e.Patient != "" {
		back := oldHead
		if back == nil {
			back, _ = json.Marshal(head{}) // an empty chain
		}
		if err := s.store.CompareAndSwap(ctx, headPrefix+e.Patient, newHead, back, 0); err != nil {
			s.log.WarnContext(ctx, "audit: entry kept without a ledger leaf: the chain moved on", "entry", id)
			return
		}
		_ = s.store.Delete(ctx, patientKey(e.Patient, e.Seq))
	}
	_ = s.store.Delete(ctx, entryPrefix+id)
}

// newID returns an entry id that sorts newest first within its day:
// <day>/<MaxInt64 - unix nanos, 19 digits>-<8 random hex>.
func newID(t time.Time) (string, error) {
	var r [4]byte
	if _, err := rand.Read(r[:]); err != nil {
		return "", err
	}
	return fmt.Sprintf("%s/%019d-%s", t.Format(dayLayout), math.MaxInt64-t.UnixNano(), hex.EncodeToString(r[:])), nil
}

func stripe(pseudonym string) int {
	h := fnv.New32a()
	h.Write([]byte(pseudonym))
	return int(h.Sum32() % 64)
}

func patientKey(pseudonym string, seq uint64) string {
	return fmt.Sprintf("%s%s/%020d", patientPrefix, pseudonym, math.MaxUint64-seq)
}

// stageJournaled gives p its place in its patient's chain, from the head
// in memory or else the stored one, and writes it to the journal: one
// record with the entry, its indexes and the moved head. It returns once
// the record is synced. A Log entry (markPending) goes to the committer
// once stored.
func (s *Service) stageJournaled(ctx context.Context, p *pending) error {
	r, items, err := s.placeJournaled(ctx, p)
	if err != nil {
		return err
	}
	if err := <-r.durable; err != nil {
		// The journal is broken and takes nothing more: the head kept in
		// memory cannot mislead a later entry.
		return err
	}
	s.daysWritten(items)
	return nil
}

// placeJournaled places p and offers its record, under jmu, so that the
// records of a chain are in the journal in chain order.
func (s *Service) placeJournaled(ctx context.Context, p *pending) (*jrec, []kv.Item, error) {
	s.jmu.Lock()
	defer s.jmu.Unlock()
	if p.e.Patient != "" {
		old, err := s.headOf(ctx, p.e.Patient)
		if err != nil {
			return nil, nil, err
		}
		h, err := parseHead(old)
		if err != nil {
			return nil, nil, err
		}
		next, err := p.chainAfter(h)
		if err != nil {
			return nil, nil, err
		}
		p.oldHead = old
		p.newHead, _ = json.Marshal(next)
	} else if err := p.seal(); err != nil {
		return nil, nil, err
	}
	items, err := s.entryItems([]*pending{p})
	if err != nil {
		return nil, nil, err
	}
	if p.e.Patient != "" {
		items = append(items, kv.Item{Key: headPrefix + p.e.Patient, Value: p.newHead})
	}
	var applied func()
	if p.markPending {
		rec, t := p.record(), p.e.Time
		applied = func() { s.commitLater(rec, t, true) }
	}
	r, err := s.j.offer(items, applied)
	if err != nil {
		return nil, nil, err
	}
	p.lsn = r.lsn
	if p.e.Patient != "" {
		s.heads[p.e.Patient] = memHead{raw: p.newHead, lsn: r.lsn}
	}
	return r, items, nil
}

// headOf returns the patient's chain head: the one in memory if a record
// holding it is not yet stored, else the stored one (nil for none). The
// caller holds jmu.
func (s *Service) headOf(ctx context.Context, patient string) ([]byte, error) {
	if h, ok := s.heads[patient]; ok {
		return h.raw, nil
	}
	raw, err := s.store.Get(ctx, headPrefix+patient)
	if errors.Is(err, kv.ErrNotFound) {
		return nil, nil
	}
	return raw, err
}

// storedHeads forgets the heads in memory that the store now holds:
// those written by records up to lsn.
func (s *Service) storedHeads(lsn uint64) {
	s.jmu.Lock()
	defer s.jmu.Unlock()
	for p, h := range s.heads {
		if h.lsn <= lsn {
			delete(s.heads, p)
		}
	}
}

// undoJournaled is undo through the journal.
func (s *Service) undoJournaled(ctx context.Context, e Entry, id string, oldHead, newHead []byte) {
	s.jmu.Lock()
	items := []kv.Item{{Key: entryPrefix + id, Delete: true}}
	var back []byte
	if e.Patient != "" {
		cur, err := s.headOf(ctx, e.Patient)
		if err != nil || !bytes.Equal(cur, newHead) {
			s.jmu.Unlock()
			s.log.WarnContext(ctx, "audit: entry kept without a ledger leaf: the chain moved on", "entry", id)
			return
		}
		back = oldHead
		if back == nil {
			back, _ = json.Marshal(head{}) // an empty chain
		}
		items = append(items, kv.Item{Key: patientKey(e.Patient, e.Seq), Delete: true}, kv.Item{Key: headPrefix + e.Patient, Value: back})
	}
	r, err := s.j.offer(items, nil)
	if err == nil && e.Patient != "" {
		s.heads[e.Patient] = memHead{raw: back, lsn: r.lsn}
	}
	s.jmu.Unlock()
	if err == nil {
		err = <-r.durable
	}
	if err != nil {
		s.log.WarnContext(ctx, "audit: entry kept without a ledger leaf: could not undo it", "entry", id, "error", err)
	}
}

// settle waits, with a journal, until the entries already answered are
// in the store, so that a read sees them.
func (s *Service) settle(ctx context.Context) error {
	if s.j == nil {
		return nil
	}
	return s.j.settle(ctx)
}
