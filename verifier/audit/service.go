package audit

import (
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
	"sync"
	"time"

	"github.com/medid/medid/did"
	"github.com/medid/medid/internal/kv"
)

// Appender is what the log needs of the ledger: internal/ledger.Log's
// Append.
type Appender interface {
	Append(ctx context.Context, data []byte) (index uint64, err error)
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
}

// Service is the access log.
type Service struct {
	store  kv.Store
	ledger Appender
	secret []byte
	now    func() time.Time
	tmo    time.Duration
	log    *slog.Logger
	// stripes serialise the chain updates of one patient within this
	// process; compare-and-swap keeps instances sharing a store apart.
	stripes [64]sync.Mutex
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
)

const dayLayout = "2006-01-02"

// stored is an entry as kept in the store.
type stored struct {
	ID         string          `json:"id"`
	Entry      json.RawMessage `json:"entry"` // Canonical(entry)
	Salt       []byte          `json:"salt"`
	Commitment string          `json:"commitment"`
	LeafIndex  *uint64         `json:"leaf_index,omitempty"`
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
	if err := e.check(); err != nil {
		return Recorded{}, err
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

	salt := make([]byte, SaltSize)
	if _, err := rand.Read(salt); err != nil {
		return Recorded{}, err
	}
	id, err := newID(e.Time)
	if err != nil {
		return Recorded{}, err
	}

	// Take the next place in the patient's chain.
	var oldHead, newHead []byte
	var canonical []byte
	var commitment string
	// The stripe lock only spares one process's writers compare-and-swap
	// retries on a patient's chain head; the swap is what keeps the chain
	// linear. It is released once the head has moved, so that one
	// patient's entries wait for each other's head update, not for each
	// other's entry writes and ledger round trip. If an append then
	// fails, undo unlinks the entry only while it is still the head;
	// otherwise the entry stays, without a leaf, and the chain holds.
	unlock := func() {}
	if e.Patient != "" {
		mu := &s.stripes[stripe(e.Patient)]
		mu.Lock()
		var once sync.Once
		unlock = func() { once.Do(mu.Unlock) }
		defer unlock()
	}
	for attempt := 0; ; attempt++ {
		if attempt == 32 {
			return Recorded{}, errors.New("audit: the patient's chain kept changing; try again")
		}
		if attempt > 0 {
			// Another instance moved the head: back off a little.
			time.Sleep(time.Duration(mrand.IntN(1000*attempt)) * time.Microsecond)
		}
		var h head
		if e.Patient != "" {
			oldHead, err = s.store.Get(ctx, headPrefix+e.Patient)
			switch {
			case errors.Is(err, kv.ErrNotFound):
				oldHead = nil
			case err != nil:
				return Recorded{}, err
			default:
				if err := json.Unmarshal(oldHead, &h); err != nil {
					return Recorded{}, fmt.Errorf("audit: chain head: %w", err)
				}
			}
			e.Seq, e.Prev = h.Seq+1, h.Commitment
		}
		if canonical, err = Canonical(e); err != nil {
			return Recorded{}, err
		}
		commitment = commit(salt, canonical)
		if e.Patient == "" {
			break
		}
		newHead, _ = json.Marshal(head{Seq: e.Seq, Commitment: commitment})
		err = s.store.CompareAndSwap(ctx, headPrefix+e.Patient, oldHead, newHead, 0)
		if errors.Is(err, kv.ErrConflict) {
			continue
		}
		if err != nil {
			return Recorded{}, err
		}
		break
	}

	unlock()
	rec := stored{ID: id, Entry: canonical, Salt: salt, Commitment: commitment}
	if err := s.write(ctx, &rec, e); err != nil {
		s.undo(ctx, e, id, oldHead, newHead)
		return Recorded{}, err
	}

	data, err := LedgerEntry(commitment, e.Time)
	if err != nil {
		s.undo(ctx, e, id, oldHead, newHead)
		return Recorded{}, err
	}
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.tmo)
	idx, err := s.ledger.Append(actx, data)
	cancel()
	if err != nil {
		s.undo(ctx, e, id, oldHead, newHead)
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
	return Recorded{ID: id, Patient: e.Patient, Seq: e.Seq, Commitment: commitment, LeafIndex: idx}, nil
}

// write stores the entry, its day marker and its patient index.
func (s *Service) write(ctx context.Context, rec *stored, e Entry) error {
	raw, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if err := s.store.Put(ctx, dayPrefix+e.Time.Format(dayLayout), []byte("1"), 0); err != nil {
		return err
	}
	if err := s.store.Put(ctx, entryPrefix+rec.ID, raw, 0); err != nil {
		return err
	}
	if e.Patient != "" {
		return s.store.Put(ctx, patientKey(e.Patient, e.Seq), []byte(rec.ID), 0)
	}
	return nil
}

// undo removes an entry whose commitment could not be appended, if it is
// still the newest of its patient's chain (the head is put back with
// compare-and-swap). If another entry was chained after it, the entry
// stays, without a leaf index, so that the chain is not broken.
func (s *Service) undo(ctx context.Context, e Entry, id string, oldHead, newHead []byte) {
	ctx = context.WithoutCancel(ctx)
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
