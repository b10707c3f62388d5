package audit

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/medid/medid/internal/kv"
)

// Page sizes.
const (
	DefaultLimit = 50
	MaxLimit     = 200
)

// Filter selects entries for List and ListForPatient.
type Filter struct {
	// From (inclusive) and To (exclusive) bound the entries' time; zero
	// leaves that end open.
	From, To time.Time
	// Outcome keeps only entries with this outcome; "" keeps all.
	Outcome Outcome
	// Patient keeps only the entries of the patient with this pseudonym
	// (List only; ListForPatient takes the pseudonym itself).
	Patient string
	// Limit is the page size: 0 means DefaultLimit, at most MaxLimit.
	Limit int
	// Cursor is the NextCursor of the previous page; "" starts at the
	// newest entry.
	Cursor string
}

// Logged is an entry read back from the log.
type Logged struct {
	ID    string
	Entry Entry
	// Commitment is the salted commitment to Entry.
	Commitment string
	// LeafIndex is the ledger index of the commitment, when OnLedger.
	LeafIndex uint64
	OnLedger  bool
	// Pending says the entry was logged with Log and its commitment is
	// still on its way to the ledger (OnLedger is false meanwhile).
	Pending bool
	// Salt is the commitment's salt. Only ListForPatient fills it: it is
	// for the patient's eyes.
	Salt []byte
}

// Page is one page of entries, newest first.
type Page struct {
	Entries []Logged
	// NextCursor continues the listing; "" on the last page.
	NextCursor string
}

// ErrInvalidFilter is wrapped by List's errors about the filter (a bad
// cursor, limit, outcome or pseudonym).
var ErrInvalidFilter = errors.New("audit: invalid filter")

var errStop = errors.New("stop")

var idShape = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}/\d{19}-[0-9a-f]{8}$`)

func (f *Filter) check() error {
	switch {
	case f.Limit < 0 || f.Limit > MaxLimit:
		return fmt.Errorf("%w: limit must be between 1 and %d", ErrInvalidFilter, MaxLimit)
	case f.Outcome != "" && !f.Outcome.Valid():
		return fmt.Errorf("%w: outcome must be permit, deny, verified or failed", ErrInvalidFilter)
	case f.Patient != "" && !validPseudonym(f.Patient):
		return fmt.Errorf("%w: not a patient pseudonym", ErrInvalidFilter)
	case !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To):
		return fmt.Errorf("%w: from must be before to", ErrInvalidFilter)
	}
	if f.Limit == 0 {
		f.Limit = DefaultLimit
	}
	return nil
}

func (f *Filter) keeps(e Entry) bool {
	return (f.From.IsZero() || !e.Time.Before(f.From)) && (f.To.IsZero() || e.Time.Before(f.To)) &&
		(f.Outcome == "" || e.Outcome == f.Outcome)
}

// List returns a page of entries, newest first, for the operator: without
// salts.
func (s *Service) List(ctx context.Context, f Filter) (Page, error) {
	if err := f.check(); err != nil {
		return Page{}, err
	}
	if err := s.settle(ctx); err != nil {
		return Page{}, err
	}
	if f.Patient != "" {
		p, err := s.listPatient(ctx, f.Patient, f)
		for i := range p.Entries {
			p.Entries[i].Salt = nil
		}
		return p, err
	}
	var after string // the cursor's entry id
	if f.Cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(f.Cursor)
		if err != nil || !idShape.Match(b) {
			return Page{}, fmt.Errorf("%w: cursor", ErrInvalidFilter)
		}
		after = string(b)
	}
	var days []string
	err := s.store.List(ctx, dayPrefix, func(k string, _ []byte) error {
		days = append(days, strings.TrimPrefix(k, dayPrefix))
		return nil
	})
	if err != nil {
		return Page{}, err
	}
	slices.Reverse(days)
	var from, to string
	if !f.From.IsZero() {
		from = f.From.UTC().Format(dayLayout)
	}
	if !f.To.IsZero() {
		to = f.To.UTC().Format(dayLayout)
	}
	afterDay, _, _ := strings.Cut(after, "/")
	var out []Logged
	for _, day := range days {
		if from != "" && day < from {
			break
		}
		if to != "" && day > to || after != "" && day > afterDay {
			continue
		}
		err := s.store.List(ctx, entryPrefix+day+"/", func(k string, v []byte) error {
			id := strings.TrimPrefix(k, entryPrefix)
			if after != "" && day == afterDay && id <= after {
				return nil
			}
			l, err := decodeStored(v)
			if err != nil {
				return err
			}
			if !f.keeps(l.Entry) {
				return nil
			}
			l.Salt = nil
			out = append(out, l)
			if len(out) > f.Limit {
				return errStop
			}
			return nil
		})
		if err != nil && !errors.Is(err, errStop) {
			return Page{}, err
		}
		if len(out) > f.Limit {
			break
		}
	}
	return page(out, f.Limit, func(l Logged) string { return l.ID }), nil
}

// ListForPatient returns a page of the entries of the patient whose
// pseudonym is given, newest first, with the salts that let the patient
// recompute each commitment (VerifyEntry) and check the chain
// (VerifyChain). The wallet API calls it for the signed-in patient only.
func (s *Service) ListForPatient(ctx context.Context, pseudonym string, f Filter) (Page, error) {
	if !validPseudonym(pseudonym) {
		return Page{}, fmt.Errorf("%w: not a patient pseudonym", ErrInvalidFilter)
	}
	f.Patient = ""
	if err := f.check(); err != nil {
		return Page{}, err
	}
	if err := s.settle(ctx); err != nil {
		return Page{}, err
	}
	return s.listPatient(ctx, pseudonym, f)
}

func (s *Service) listPatient(ctx context.Context, pseudonym string, f Filter) (Page, error) {
	before := uint64(math.MaxUint64) // entries with a lower seq than the cursor's
	if f.Cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(f.Cursor)
		n, perr := strconv.ParseUint(strings.TrimPrefix(string(b), "seq:"), 10, 64)
		if err != nil || perr != nil || !strings.HasPrefix(string(b), "seq:") || n == 0 {
			return Page{}, fmt.Errorf("%w: cursor", ErrInvalidFilter)
		}
		before = n
	}
	// Collect the ids first: the store is not called from inside List.
	var ids []string
	prefix := patientPrefix + pseudonym + "/"
	err := s.store.List(ctx, prefix, func(k string, v []byte) error {
		inv, err := strconv.ParseUint(strings.TrimPrefix(k, prefix), 10, 64)
		if err != nil {
			return fmt.Errorf("audit: patient index key %q", k)
		}
		if math.MaxUint64-inv < before {
			ids = append(ids, string(v))
		}
		return nil
	})
	if err != nil {
		return Page{}, err
	}
	var out []Logged
	for _, id := range ids {
		v, err := s.store.Get(ctx, entryPrefix+id)
		if errors.Is(err, kv.ErrNotFound) {
			continue // a removed entry: VerifyChain reports the gap
		}
		if err != nil {
			return Page{}, err
		}
		l, err := decodeStored(v)
		if err != nil {
			return Page{}, err
		}
		if l.Entry.Patient != pseudonym || !f.keeps(l.Entry) {
			continue
		}
		out = append(out, l)
		if len(out) > f.Limit {
			break
		}
	}
	return page(out, f.Limit, func(l Logged) string { return "seq:" + strconv.FormatUint(l.Entry.Seq, 10) }), nil
}

func page(out []Logged, limit int, cursor func(Logged) string) Page {
	if len(out) <= limit {
		return Page{Entries: out}
	}
	out = out[:limit]
	return Page{Entries: out, NextCursor: base64.RawURLEncoding.EncodeToString([]byte(cursor(out[limit-1])))}
}

func decodeStored(v []byte) (Logged, error) {
	var st stored
	if err := json.Unmarshal(v, &st); err != nil {
		return Logged{}, fmt.Errorf("audit: stored entry: %w", err)
	}
	e, err := parseCanonical(st.Entry)
	if err != nil {
		return Logged{}, err
	}
	l := Logged{ID: st.ID, Entry: e, Commitment: st.Commitment, Salt: st.Salt}
	if st.LeafIndex != nil {
		l.LeafIndex, l.OnLedger = *st.LeafIndex, true
	} else {
		l.Pending = st.Pending
	}
	return l, nil
}

// ErrChainBroken is wrapped by VerifyChain's errors.
var ErrChainBroken = errors.New("audit: the patient's chain is broken")

// ChainError says where a patient's chain breaks.
type ChainError struct {
	// Seq is the sequence number at which the break shows.
	Seq    uint64
	Reason string
}

func (e *ChainError) Error() string {
	return fmt.Sprintf("audit: the patient's chain is broken at entry %d: %s", e.Seq, e.Reason)
}

// Is makes errors.Is(err, ErrChainBroken) hold.
func (e *ChainError) Is(target error) bool { return target == ErrChainBroken }

// VerifyChain checks a patient's complete list of entries, with their
// salts (every page of ListForPatient without filters): each commitment
// recomputes from its entry and salt, all entries are the same patient's,
// the sequence numbers run 1, 2, … without a gap, and each entry's prev is
// the previous entry's commitment. A removed or altered entry gives a
// *ChainError naming where the chain breaks. The newest entries can be
// removed without breaking the chain; compare the newest Seq with one
// seen before to detect that.
func VerifyChain(entries []Logged) error {
	es := slices.Clone(entries)
	slices.SortFunc(es, func(a, b Logged) int {
		switch {
		case a.Entry.Seq < b.Entry.Seq:
			return -1
		case a.Entry.Seq > b.Entry.Seq:
			return 1
		}
		return 0
	})
	prev := ""
	for i, l := range es {
		want := uint64(i + 1)
		switch {
		case l.Entry.Seq > want:
			return &ChainError{Seq: want, Reason: "the entry is missing"}
		case l.Entry.Seq < want:
			return &ChainError{Seq: l.Entry.Seq, Reason: "two entries have this sequence number"}
		case l.Entry.Patient == "" || l.Entry.Patient != es[0].Entry.Patient:
			return &ChainError{Seq: want, Reason: "the entry is not the same patient's"}
		}
		c, err := VerifyEntry(l.Entry, l.Salt)
		if err != nil {
			return &ChainError{Seq: want, Reason: err.Error()}
		}
		if c != l.Commitment {
			return &ChainError{Seq: want, Reason: "the entry does not match its commitment"}
		}
		if l.Entry.Prev != prev {
			return &ChainError{Seq: want, Reason: "prev is not the previous entry's commitment"}
		}
		prev = l.Commitment
	}
	return nil
}
