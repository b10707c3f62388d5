package walletapi

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gowebpki/jcs"
	"golang.org/x/sync/errgroup"

	"github.com/medid/medid/did"
	"github.com/medid/medid/internal/ledger"
)

// AccessLog is what the wallet reads of the verifier's access log
// (verifier/audit.Service, which walletapi may not import: internal/app
// adapts it, field for field, to these mirrored types).
type AccessLog interface {
	// PatientSalt returns the patient's salt, from which the wallet
	// computes the patient's pseudonym: base64url(HMAC-SHA256(salt, DID)).
	PatientSalt(patient did.DID) []byte
	// ListForPatient returns a page of the entries of the patient with
	// this pseudonym, newest first, with their salts.
	ListForPatient(ctx context.Context, pseudonym string, f AccessLogFilter) (AccessLogPage, error)
}

// AccessLogFilter selects entries (audit.Filter).
type AccessLogFilter struct {
	// Limit is the page size, 1 to 200.
	Limit int
	// Cursor is the NextCursor of the previous page; "" starts at the
	// newest entry.
	Cursor string
}

// AccessLogPage is one page of entries, newest first (audit.Page).
type AccessLogPage struct {
	Entries    []AccessLogged
	NextCursor string
}

// AccessLogged is an entry read back from the log (audit.Logged).
type AccessLogged struct {
	ID         string
	Entry      AccessEntry
	Commitment string
	LeafIndex  uint64
	OnLedger   bool
	// Pending: the commitment is still being appended to the ledger.
	Pending bool
	Salt    []byte
}

// AccessEntry is one access log entry (audit.Entry without PatientDID).
// Its fields are exactly the committed ones: the wallet recomputes the
// commitment from them.
type AccessEntry struct {
	Kind            string
	Time            time.Time
	Verifier        string
	Client          string
	Patient         string
	CredentialTypes []string
	ClaimNames      []string
	Scopes          []string
	Purpose         string
	Outcome         string
	Reasons         []string
	Seq             uint64
	Prev            string
}

// Access log page sizes.
const (
	DefaultAccessLogLimit = 50
	MaxAccessLogLimit     = 100
	// auditMaxLimit is the access log's own page size bound.
	auditMaxLimit = 200
	// maxAccessCursor bounds a cursor's encoded size.
	maxAccessCursor = 64 << 10
)

// AccessEvent is one entry of the patient's access log as the wallet
// shows it: who (verifier, client), what (kind, credential types, claim
// names, scopes), why (purpose), when (time), the outcome, and the proof
// that it is on the ledger, which the wallet has checked (Verified).
type AccessEvent struct {
	ID string `json:"id"`
	// DID is the account's DID the entry concerns.
	DID             string    `json:"did"`
	Kind            string    `json:"kind"`
	Time            time.Time `json:"time"`
	Verifier        string    `json:"verifier"`
	Client          string    `json:"client,omitempty"`
	CredentialTypes []string  `json:"credential_types,omitempty"`
	ClaimNames      []string  `json:"claim_names,omitempty"`
	Scopes          []string  `json:"scopes,omitempty"`
	Purpose         string    `json:"purpose,omitempty"`
	Outcome         string    `json:"outcome"`
	Reasons         []string  `json:"reasons,omitempty"`
	// Seq and Prev place the entry in the patient's chain.
	Seq  uint64 `json:"seq"`
	Prev string `json:"prev,omitempty"`
	// Commitment is the entry's salted commitment, Salt its salt
	// (base64), so that the patient's app can check it again.
	Commitment string                `json:"commitment"`
	Salt       []byte                `json:"salt"`
	Proof      *AccessInclusionProof `json:"proof,omitempty"`
	// Verified: the commitment recomputes from the entry and its salt,
	// the entry is this patient's, and the ledger holds the commitment at
	// LeafIndex in the tree of the page's checkpoint. Problem says why
	// not.
	Verified bool   `json:"verified"`
	Problem  string `json:"problem,omitempty"`
}

// AccessInclusionProof is an RFC 9162 inclusion proof of an entry's
// ledger leaf (the JCS of {"commitment","time","type":"access-log/entry",
// "v":1}) in the tree of TreeSize entries.
type AccessInclusionProof struct {
	LeafIndex uint64   `json:"leaf_index"`
	TreeSize  uint64   `json:"tree_size"`
	Hashes    [][]byte `json:"hashes"`
}

// AccessLogView is a page of the patient's access log.
type AccessLogView struct {
	Entries    []AccessEvent `json:"entries"`
	NextCursor string        `json:"next_cursor,omitempty"`
	// Checkpoint is the signed ledger checkpoint (C2SP signed note) the
	// proofs were checked against; empty when none could be verified.
	Checkpoint string `json:"checkpoint,omitempty"`
	// AllVerified is false if any entry failed to verify (or could not be
	// checked yet); Unverified counts them.
	AllVerified bool `json:"all_verified"`
	Unverified  int  `json:"unverified"`
}

// accessCommitted mirrors verifier/audit's committed JSON, field for field
// and tag for tag: the commitment covers its JCS.
type accessCommitted struct {
	V               int      `json:"v"`
	Kind            string   `json:"kind"`
	Time            string   `json:"time"`
	Verifier        string   `json:"verifier"`
	Client          string   `json:"client,omitempty"`
	Patient         string   `json:"patient,omitempty"`
	CredentialTypes []string `json:"credential_types,omitempty"`
	ClaimNames      []string `json:"claim_names,omitempty"`
	Scopes          []string `json:"scopes,omitempty"`
	Purpose         string   `json:"purpose,omitempty"`
	Outcome         string   `json:"outcome"`
	Reasons         []string `json:"reasons,omitempty"`
	Seq             uint64   `json:"seq,omitempty"`
	Prev            string   `json:"prev,omitempty"`
}

// accessCommitment recomputes an entry's commitment:
// base64url(SHA-256(salt || JCS(entry))).
func accessCommitment(e AccessEntry, salt []byte) (string, error) {
	if len(salt) != 32 {
		return "", fmt.Errorf("a salt is 32 bytes, not %d", len(salt))
	}
	if e.Seq > 1<<53 {
		// JCS numbers are IEEE doubles: a larger seq has no exact
		// canonical form, and the access log never commits to one.
		return "", fmt.Errorf("seq %d is past the integers JSON holds exactly", e.Seq)
	}
	raw, err := json.Marshal(accessCommitted{V: 1, Kind: e.Kind, Time: e.Time.UTC().Format(time.RFC3339Nano),
		Verifier: e.Verifier, Client: e.Client, Patient: e.Patient, CredentialTypes: e.CredentialTypes,
		ClaimNames: e.ClaimNames, Scopes: e.Scopes, Purpose: e.Purpose, Outcome: e.Outcome, Reasons: e.Reasons,
		Seq: e.Seq, Prev: e.Prev})
	if err != nil {
		return "", err
	}
	c, err := jcs.Transform(raw)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	h.Write(salt)
	h.Write(c)
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)), nil
}

// accessLedgerEntry is the ledger leaf that commits to an entry: the JCS
// of {"commitment","time","type":"access-log/entry","v":1}.
func accessLedgerEntry(commitment string, t time.Time) ([]byte, error) {
	raw, err := json.Marshal(struct {
		V          int    `json:"v"`
		Type       string `json:"type"`
		Commitment string `json:"commitment"`
		Time       string `json:"time"`
	}{1, "access-log/entry", commitment, t.UTC().Format(time.RFC3339Nano)})
	if err != nil {
		return nil, err
	}
	return jcs.Transform(raw)
}

// accessPseudonym is base64url(HMAC-SHA256(salt, DID)).
func accessPseudonym(salt []byte, d string) string {
	m := hmac.New(sha256.New, salt)
	m.Write([]byte(d))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// accountDIDs lists every DID of the account an access log entry may name:
// each holder key's did:jwk and did:key, its registered did:medid DIDs,
// and the did:jwk of every credential copy's own key (a presentation of a
// copy is logged under it).
func (s *Service) accountDIDs(ctx context.Context, a Account) ([]string, error) {
	set := map[string]bool{}
	ks, err := s.Keys(ctx, a)
	if err != nil {
		return nil, err
	}
	for _, k := range ks {
		set[k.DIDJWK], set[k.DIDKey] = true, true
	}
	ds, err := s.LedgerDIDs(ctx, a)
	if err != nil {
		return nil, err
	}
	for _, d := range ds {
		if d.DID != "" {
			set[d.DID] = true
		}
	}
	v, err := s.vault(a)
	if err != nil {
		return nil, err
	}
	err = s.store.List(ctx, dataKey(a.ID, "cred", ""), func(k string, raw []byte) error {
		var rec struct {
			Copies []struct {
				HolderDID string `json:"holder_did"`
			} `json:"copies"`
		}
		if err := v.open(k, raw, &rec); err != nil {
			return fmt.Errorf("walletapi: credential %s: %w", k, err)
		}
		for _, c := range rec.Copies {
			if c.HolderDID != "" {
				set[c.HolderDID] = true
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	delete(set, "")
	out := make([]string, 0, len(set))
	for d := range set {
		out = append(out, d)
	}
	slices.Sort(out)
	return out, nil
}

// accessCursor is the state of a listing across the account's pseudonyms.
// For each pseudonym it keeps the access log's cursor of the page that
// holds the next entry to show, and the sequence number of the last entry
// shown (entries of one patient are listed by falling sequence number, so
// those at or above it were shown, or were logged since the first page),
// or that it is exhausted. A pseudonym it does not name starts from the
// newest entry.
type accessCursor struct {
	S map[string]accessState `json:"s"`
}

type accessState struct {
	C    string `json:"c,omitempty"`
	Seq  uint64 `json:"q,omitempty"`
	Done bool   `json:"d,omitempty"`
}

var errBadCursor = fieldErr("cursor", "not a cursor of this listing (use next_cursor as given)")

// parseAccessCursor decodes a cursor given back by a client.
func parseAccessCursor(s string) (*accessCursor, error) {
	if len(s) > maxAccessCursor {
		return nil, errBadCursor
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, errBadCursor
	}
	var c accessCursor
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil || dec.More() || len(c.S) == 0 {
		return nil, errBadCursor
	}
	for p, st := range c.S {
		if !validPseudonymShape(p) || len(st.C) > 512 || (st.Done && (st.C != "" || st.Seq != 0)) || (!st.Done && st.Seq == 0) {
			return nil, errBadCursor
		}
	}
	return &c, nil
}

func (c *accessCursor) encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// validPseudonymShape: 43 base64url characters (a SHA-256 output).
func validPseudonymShape(s string) bool {
	if len(s) != 43 {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil
}

// accessSource is one pseudonym's entries fetched for a page.
type accessSource struct {
	did, pseudonym string
	st             accessState
	entries        []AccessLogged // not shown yet, newest first
	from           []string       // the access log cursor of each entry's page
	next           string         // the access log's cursor after the last page fetched
	used           int
}

// AccessLog returns a page of the verifier decisions and verifications
// that concern the account's DIDs, newest first, each checked against the
// ledger (see AccessEvent.Verified). limit is 1 to MaxAccessLogLimit (0:
// DefaultAccessLogLimit); cursor is the previous page's NextCursor.
func (s *Service) AccessLog(ctx context.Context, a Account, limit int, cursor string) (*AccessLogView, error) {
	if s.opt.AccessLog == nil || s.opt.LedgerProofs == nil || s.opt.LedgerKey == "" {
		return nil, &ServiceError{Status: http.StatusNotImplemented, Kind: "not-configured", Detail: "this wallet has no access log configured"}
	}
	if limit == 0 {
		limit = DefaultAccessLogLimit
	}
	if limit < 1 || limit > MaxAccessLogLimit {
		return nil, fieldErr("limit", "must be an integer from 1 to %d", MaxAccessLogLimit)
	}
	cur := &accessCursor{S: map[string]accessState{}}
	first := cursor == ""
	if !first {
		c, err := parseAccessCursor(cursor)
		if err != nil {
			return nil, err
		}
		cur = c
	}
	dids, err := s.accountDIDs(ctx, a)
	if err != nil {
		return nil, err
	}
	// Only the account's own DIDs are listed: a cursor names pseudonyms,
	// but one not of this account is ignored.
	var srcs []*accessSource
	for _, d := range dids {
		pd, err := did.Parse(d)
		if err != nil {
			continue
		}
		p := accessPseudonym(s.opt.AccessLog.PatientSalt(pd), pd.String())
		st := cur.S[p]
		if st.Done {
			continue
		}
		srcs = append(srcs, &accessSource{did: d, pseudonym: p, st: st})
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for _, src := range srcs {
		g.Go(func() error { return s.fetchAccess(gctx, src, limit) })
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}

	// Merge newest first, taking from the head of each source, so that
	// what is shown of each source is a prefix of it.
	var picked []*accessSource
	var entries []AccessLogged
	for len(entries) < limit {
		var best *accessSource
		for _, src := range srcs {
			if src.used >= len(src.entries) {
				continue
			}
			e := src.entries[src.used]
			if best == nil || e.Entry.Time.After(best.entries[best.used].Entry.Time) {
				best = src
			}
		}
		if best == nil {
			break
		}
		entries = append(entries, best.entries[best.used])
		picked = append(picked, best)
		best.used++
	}

	// The next cursor.
	more := false
	for _, src := range srcs {
		st := src.st
		switch {
		case src.used < len(src.entries):
			st.C = src.from[src.used]
		case src.next == "":
			st = accessState{Done: true}
		default:
			st.C = src.next
		}
		if src.used > 0 && !st.Done {
			st.Seq = src.entries[src.used-1].Entry.Seq
		}
		more = more || !st.Done
		if st != (accessState{}) {
			cur.S[src.pseudonym] = st
		}
	}

	view := &AccessLogView{Entries: make([]AccessEvent, 0, len(entries)), AllVerified: true}
	if more {
		view.NextCursor = cur.encode()
	}
	s.verifyAccess(ctx, view, entries, picked)
	return view, nil
}

// fetchAccess fetches at least limit entries of one source not shown yet
// (fewer at its end), from the page its state names, leaving out those at
// or above the last sequence number shown.
func (s *Service) fetchAccess(ctx context.Context, src *accessSource, limit int) error {
	c := src.st.C
	for range 1000 {
		p, err := s.opt.AccessLog.ListForPatient(ctx, src.pseudonym, AccessLogFilter{Limit: auditMaxLimit, Cursor: c})
		if err != nil {
			return accessLogError(err)
		}
		for _, e := range p.Entries {
			if src.st.Seq == 0 || e.Entry.Seq < src.st.Seq {
				src.entries = append(src.entries, e)
				src.from = append(src.from, c)
			}
		}
		src.next = p.NextCursor
		if p.NextCursor == "" || len(src.entries) >= limit {
			return nil
		}
		c = p.NextCursor
	}
	return accessLogError(errors.New("the access log's pages do not end"))
}

func accessLogError(err error) error {
	if errors.Is(err, context.Canceled) {
		return err
	}
	return &ServiceError{Status: http.StatusServiceUnavailable, Kind: "unavailable", Detail: "the access log could not be read; retry", Cause: err}
}

// verifyAccess renders entries (taken from picked[i]) into view, checking
// each against one verified checkpoint.
func (s *Service) verifyAccess(ctx context.Context, view *AccessLogView, entries []AccessLogged, picked []*accessSource) {
	var cp ledger.Checkpoint
	cpProblem := ""
	if len(entries) > 0 {
		raw, err := s.opt.LedgerProofs.Checkpoint(ctx)
		if err == nil {
			cp, err = ledger.VerifyCheckpoint(raw.Raw, s.opt.LedgerKey)
			if err != nil {
				cpProblem = "the ledger's checkpoint does not verify with the ledger's key"
				s.opt.Logger.WarnContext(ctx, "access log: checkpoint did not verify", "error", err)
			}
		} else {
			cpProblem = "the ledger could not be read to check this entry; retry"
			s.opt.Logger.WarnContext(ctx, "access log: no checkpoint", "error", err)
		}
		if cpProblem == "" {
			view.Checkpoint = string(cp.Raw)
		}
	}
	// Links between entries of one chain shown on this page.
	byCommit := map[string]map[uint64]string{}
	for _, l := range entries {
		m := byCommit[l.Entry.Patient]
		if m == nil {
			m = map[uint64]string{}
			byCommit[l.Entry.Patient] = m
		}
		m[l.Entry.Seq] = l.Commitment
	}
	for i, l := range entries {
		src := picked[i]
		e := l.Entry
		ev := AccessEvent{ID: l.ID, DID: src.did, Kind: e.Kind, Time: e.Time.UTC(), Verifier: e.Verifier, Client: e.Client,
			CredentialTypes: e.CredentialTypes, ClaimNames: e.ClaimNames, Scopes: e.Scopes, Purpose: e.Purpose,
			Outcome: e.Outcome, Reasons: e.Reasons, Seq: e.Seq, Prev: e.Prev, Commitment: l.Commitment, Salt: l.Salt}
		problem := func() string {
			if e.Patient != src.pseudonym {
				return "the entry is not about this patient"
			}
			c, err := accessCommitment(e, l.Salt)
			if err != nil || c != l.Commitment {
				return "the entry does not match its commitment: it was altered"
			}
			if prev, ok := byCommit[e.Patient][e.Seq-1]; ok && e.Seq > 1 && prev != e.Prev {
				return "the entry does not follow the patient's previous entry: the chain is broken"
			}
			if e.Seq == 0 || e.Seq > 1 && e.Prev == "" || e.Seq == 1 && e.Prev != "" {
				return "the entry's place in the patient's chain is inconsistent"
			}
			if !l.OnLedger && l.Pending {
				return "the entry's commitment is being appended to the ledger; retry in a few seconds"
			}
			if !l.OnLedger {
				return "the entry has no ledger leaf"
			}
			if cpProblem != "" {
				return cpProblem
			}
			if l.LeafIndex >= cp.Size {
				return "the ledger has not yet published a checkpoint that covers this entry; retry in a few seconds"
			}
			hashes, err := s.opt.LedgerProofs.InclusionProof(ctx, l.LeafIndex, cp.Size)
			if err != nil {
				s.opt.Logger.WarnContext(ctx, "access log: no inclusion proof", "leaf", l.LeafIndex, "error", err)
				return "the ledger gave no inclusion proof for this entry"
			}
			ev.Proof = &AccessInclusionProof{LeafIndex: l.LeafIndex, TreeSize: cp.Size, Hashes: hashes}
			leaf, err := accessLedgerEntry(c, e.Time)
			if err != nil {
				return "the entry's ledger leaf could not be rebuilt"
			}
			if err := ledger.VerifyInclusion(leaf, l.LeafIndex, hashes, cp); err != nil {
				return "the ledger does not hold this entry's commitment at its leaf index"
			}
			return ""
		}()
		ev.Verified, ev.Problem = problem == "", problem
		if !ev.Verified {
			view.AllVerified = false
			view.Unverified++
		}
		view.Entries = append(view.Entries, ev)
	}
}
