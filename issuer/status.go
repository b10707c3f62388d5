package issuer

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gowebpki/jcs"

	"github.com/medid/medid/credentials/jwtvc"
	"github.com/medid/medid/credentials/status"
	"github.com/medid/medid/credentials/status/bitstring"
	"github.com/medid/medid/credentials/status/tokenlist"
	"github.com/medid/medid/internal/keys"
	"github.com/medid/medid/internal/kv"
)

// recordPrefix keeps issuance records: what was issued, never the claims.
const recordPrefix = "vci/issued/"

// positionPrefix indexes the records by status list position:
// vci/at/<index>/<list URL> holds the id of the credential at that index
// of that list, written with the record. Records(ctx, index) and so the
// wallet's consent revocation read the few records at an index instead
// of every record.
const positionPrefix = "vci/at/"

// positionsIndexedKey marks a store whose records from before the index
// have been indexed (IndexRecords); until then Records reads them all.
const positionsIndexedKey = "vci/at-indexed"

func positionKey(index int, list string) string {
	return positionPrefix + strconv.Itoa(index) + "/" + list
}

// positionItems are the index entries of r's status list positions.
func (r *Record) positionItems() []kv.Item {
	var items []kv.Item
	if r.StatusIndex != nil {
		items = append(items, kv.Item{Key: positionKey(*r.StatusIndex, r.StatusList), Value: []byte(r.ID)})
	}
	for _, b := range r.Bitstring {
		items = append(items, kv.Item{Key: positionKey(b.Index, b.List), Value: []byte(r.ID)})
	}
	return items
}

// Record is what the issuer keeps about an issued credential.
type Record struct {
	ID            string `json:"id"`
	Configuration string `json:"credential_configuration_id"`
	// Subject is a pseudonym of the holder (a hash of the holder key's
	// thumbprint, salted per issuer), not an identifier of the patient.
	Subject     string `json:"subject"`
	StatusList  string `json:"status_list,omitempty"`
	StatusIndex *int   `json:"status_index,omitempty"`
	// Bitstring holds the W3C Bitstring Status List entries of a VC Data
	// Model credential (one for revocation, one for suspension).
	Bitstring []BitstringRef `json:"bitstring_status,omitempty"`
	Status    string         `json:"status"` // valid, suspended, revoked
	IssuedAt  time.Time      `json:"issued_at"`
	UpdatedAt time.Time      `json:"updated_at"`
}

// BitstringRef is a credential's position in a Bitstring Status List.
type BitstringRef struct {
	Purpose string `json:"purpose"` // revocation or suspension
	List    string `json:"list"`    // the statusListCredential URL
	Index   int    `json:"index"`
}

// StatusAppender is what the status service needs of the ledger.
type StatusAppender interface {
	Append(ctx context.Context, data []byte) (uint64, error)
}

// Status manages the token status lists of issued SD-JWT VCs: allocation,
// issuance records, revocation and suspension (each change committed to the
// ledger), and the signed lists verifiers fetch.
type Status struct {
	Manager *status.Manager
	Store   kv.Store
	Ledger  StatusAppender
	Keys    KeySource
	// ListURL is the URL prefix of served token lists ("<base>/status/token/").
	ListURL string
	// BitstringURL is the URL prefix of served bitstring status list
	// credentials ("<base>/status/bitstring/").
	BitstringURL string
	Now          func() time.Time
	// TTL is the ttl claim of served lists: how long verifiers may cache.
	TTL time.Duration

	indexed atomic.Bool // the store's records are all position-indexed
	mu      sync.Mutex
	signed  map[string]signedList
	pools   map[status.Purpose]*refPool
	stop    chan struct{}
	closed  bool
	workers sync.WaitGroup
}

// refPool holds list positions allocated ahead of need by background
// workers, so that issuing a credential does not wait for durable store
// writes. Workers allocate a few positions of one page per store write;
// positions are handed out in random order from a pool mixing many
// pages, so credentials issued one after the other do not share a page
// more than chance says. A position lost with the process (allocated,
// never handed out) is simply never used: it stays 0 in its list.
type refPool struct {
	mu   sync.Mutex
	refs []status.ListRef
	need chan struct{} // wakes a worker after a position was taken
}

// Pool sizes: positions kept ready per purpose, positions per store write
// and the workers filling the pool.
const (
	poolSize    = 512
	poolBatch   = 16
	poolWorkers = 2
)

// allocate hands out a fresh random position for purpose: a ready one
// from the pool, or, when the pool is empty, one allocated now.
func (s *Status) allocate(ctx context.Context, purpose status.Purpose) (status.ListRef, error) {
	p := s.pool(purpose)
	p.mu.Lock()
	n := len(p.refs)
	if n == 0 {
		p.mu.Unlock()
		return s.Manager.Allocate(ctx, purpose)
	}
	i := mrand.IntN(n)
	r := p.refs[i]
	p.refs[i] = p.refs[n-1]
	p.refs = p.refs[:n-1]
	p.mu.Unlock()
	select {
	case p.need <- struct{}{}:
	default:
	}
	return r, nil
}

func (s *Status) pool(purpose status.Purpose) *refPool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.pools[purpose]; p != nil {
		return p
	}
	if s.pools == nil {
		s.pools = map[status.Purpose]*refPool{}
		s.stop = make(chan struct{})
	}
	p := &refPool{need: make(chan struct{}, 1)}
	s.pools[purpose] = p
	if !s.closed {
		for range poolWorkers {
			s.workers.Add(1)
			go s.fill(p, purpose)
		}
	}
	return p
}

// fill keeps p full until Close.
func (s *Status) fill(p *refPool, purpose status.Purpose) {
	defer s.workers.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-s.stop
		cancel()
	}()
	backoff := 10 * time.Millisecond
	for ctx.Err() == nil {
		p.mu.Lock()
		room := poolSize - len(p.refs)
		p.mu.Unlock()
		if room < poolBatch {
			select {
			case <-p.need:
			case <-ctx.Done():
			}
			continue
		}
		refs, err := s.Manager.AllocateN(ctx, purpose, poolBatch)
		if err != nil {
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		backoff = 10 * time.Millisecond
		p.mu.Lock()
		p.refs = append(p.refs, refs...)
		p.mu.Unlock()
	}
}

// Close stops the pool workers and waits for them; call it before closing
// the store.
func (s *Status) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	if s.stop != nil {
		close(s.stop)
	}
	s.mu.Unlock()
	s.workers.Wait()
}

type signedList struct {
	version uint64
	token   string
	at      time.Time
}

// Allocate implements StatusSource with a random index in a token list.
func (s *Status) Allocate(ctx context.Context) (string, int, error) {
	ref, err := s.allocate(ctx, status.TokenStatus)
	if err != nil {
		return "", 0, err
	}
	return s.ListURL + ref.ListID, ref.Index, nil
}

// AllocateBitstring implements BitstringSource: a random entry in the
// current revocation list and one in the current suspension list.
func (s *Status) AllocateBitstring(ctx context.Context) ([]bitstring.Entry, error) {
	var out []bitstring.Entry
	for _, p := range []status.Purpose{status.BitstringRevocation, status.BitstringSuspension} {
		ref, err := s.allocate(ctx, p)
		if err != nil {
			return nil, err
		}
		e, err := bitstring.NewEntry(s.BitstringURL+ref.ListID, bitstring.Purpose(p), ref.Index)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// RecordIssuance stores the record of a minted credential (a Recorder).
func (s *Status) RecordIssuance(ctx context.Context, cfgID, holderThumbprint string, m *Minted) error {
	now := s.now()
	sum := sha256.Sum256([]byte(s.ListURL + "\x00" + holderThumbprint))
	r := Record{ID: m.ID, Configuration: cfgID, Subject: base64.RawURLEncoding.EncodeToString(sum[:16]),
		Status: "valid", IssuedAt: now, UpdatedAt: now}
	if m.Status != "" {
		uri, idx, err := splitStatus(m.Status)
		if err != nil {
			return err
		}
		r.StatusList, r.StatusIndex = uri, &idx
	}
	for _, e := range m.Bitstring {
		idx, err := e.Index()
		if err != nil {
			return err
		}
		r.Bitstring = append(r.Bitstring, BitstringRef{Purpose: string(e.StatusPurpose), List: e.StatusListCredential, Index: idx})
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	items := append([]kv.Item{{Key: recordPrefix + r.ID, Value: b}}, r.positionItems()...)
	err = s.Store.PutAllIf(ctx, recordPrefix+r.ID, nil, items)
	if errors.Is(err, kv.ErrConflict) {
		return ErrDuplicateID
	}
	return err
}

// ErrDuplicateID reports a credential id that has an issuance record
// already: the record is not replaced.
var ErrDuplicateID = errors.New("issuer: a credential with this id was recorded already")

// Issued reports whether a credential with this id was recorded.
func (s *Status) Issued(ctx context.Context, id string) (bool, error) {
	_, err := s.Store.Get(ctx, recordPrefix+id)
	if errors.Is(err, kv.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

func splitStatus(s string) (string, int, error) {
	uri, idx, ok := strings.Cut(s, "#")
	n, err := strconv.Atoi(idx)
	if !ok || err != nil {
		return "", 0, fmt.Errorf("issuer: malformed status reference %q", s)
	}
	return uri, n, nil
}

// ErrNoRecord reports an unknown credential id.
var ErrNoRecord = errors.New("issuer: no such credential")

// ErrStatusTransition reports a change the lists do not allow (revoked is
// final; only a suspended credential can be reinstated).
var ErrStatusTransition = errors.New("issuer: status change not allowed")

// Change applies action (revoke, suspend, reinstate) to credential id,
// then commits the list's new version to the ledger.
func (s *Status) Change(ctx context.Context, id, action string) (*Record, error) {
	raw, err := s.Store.Get(ctx, recordPrefix+id)
	if errors.Is(err, kv.ErrNotFound) {
		return nil, ErrNoRecord
	}
	if err != nil {
		return nil, err
	}
	var r Record
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, err
	}
	var next string
	switch action {
	case "revoke":
		next = "revoked"
	case "suspend":
		next = "suspended"
	case "reinstate":
		if r.Status != "suspended" {
			return nil, fmt.Errorf("%w: only a suspended credential can be reinstated (it is %s)", ErrStatusTransition, r.Status)
		}
		next = "valid"
	default:
		return nil, fmt.Errorf("unknown action %q", action)
	}
	if r.Status == "revoked" {
		return nil, fmt.Errorf("%w: the credential is revoked, which is final", ErrStatusTransition)
	}
	if r.Status == next {
		return &r, nil // already so: nothing changes, nothing is committed
	}
	changes, err := s.changesFor(&r, next)
	if err != nil {
		return nil, err
	}
	for _, c := range changes {
		if err := s.Manager.SetStatus(ctx, c.ref, c.value); err != nil {
			if errors.Is(err, status.ErrIrreversible) {
				return nil, fmt.Errorf("%w: %v", ErrStatusTransition, err)
			}
			return nil, err
		}
		if err := s.commit(ctx, c.url, c.ref.ListID); err != nil {
			return nil, err
		}
	}
	r.Status, r.UpdatedAt = next, s.now()
	b, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	if err := s.Store.CompareAndSwap(ctx, recordPrefix+id, raw, b, 0); err != nil {
		return nil, err
	}
	return &r, nil
}

type listChange struct {
	url   string // the served list's URL prefix
	ref   status.ListRef
	value uint8
}

// changesFor maps a record's move to status next onto list writes: one
// token list entry, or bits in the bitstring revocation and suspension
// lists. Revoking a suspended credential leaves its suspension bit set:
// revocation is final whatever the other list says.
func (s *Status) changesFor(r *Record, next string) ([]listChange, error) {
	if r.StatusIndex != nil {
		var v uint8
		switch next {
		case "revoked":
			v = tokenlist.Invalid
		case "suspended":
			v = tokenlist.Suspended
		default:
			v = tokenlist.Valid
		}
		return []listChange{{s.ListURL, status.ListRef{ListID: strings.TrimPrefix(r.StatusList, s.ListURL), Index: *r.StatusIndex}, v}}, nil
	}
	if len(r.Bitstring) == 0 {
		return nil, fmt.Errorf("%w: the credential has no status entry", ErrStatusTransition)
	}
	var out []listChange
	for _, b := range r.Bitstring {
		ref := status.ListRef{ListID: strings.TrimPrefix(b.List, s.BitstringURL), Index: b.Index}
		switch {
		case b.Purpose == string(status.BitstringRevocation) && next == "revoked":
			out = append(out, listChange{s.BitstringURL, ref, 1})
		case b.Purpose == string(status.BitstringSuspension) && next == "suspended":
			out = append(out, listChange{s.BitstringURL, ref, 1})
		case b.Purpose == string(status.BitstringSuspension) && next == "valid":
			out = append(out, listChange{s.BitstringURL, ref, 0})
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: the credential has no %s status entry", ErrStatusTransition, next)
	}
	return out, nil
}

// StatusEntryType is the ledger entry type of a status list commitment.
const StatusEntryType = "status-list/version"

// commit appends the digest of the list's current version to the ledger,
// so that a served list can be checked and cannot be silently rewritten.
func (s *Status) commit(ctx context.Context, prefix, listID string) error {
	snap, err := s.Manager.Snapshot(ctx, listID)
	if err != nil {
		return err
	}
	sum := sha256.Sum256([]byte(snap.Encoded))
	raw, err := json.Marshal(map[string]any{"v": 1, "type": StatusEntryType, "list": prefix + listID,
		"version": snap.Version, "digest": base64.RawURLEncoding.EncodeToString(sum[:]),
		"time": s.now().Format(time.RFC3339)})
	if err != nil {
		return err
	}
	entry, err := jcs.Transform(raw)
	if err != nil {
		return err
	}
	_, err = s.Ledger.Append(ctx, entry)
	return err
}

// Records lists issuance records, optionally only those at a status list
// index (index < 0: all), ordered by issue time, then id. At an index it reads
// only the records the position index names, once the store is indexed
// (IndexRecords).
func (s *Status) Records(ctx context.Context, index int) ([]Record, error) {
	if index >= 0 {
		if s.indexed.Load() {
			return s.recordsAt(ctx, index)
		}
		switch _, err := s.Store.Get(ctx, positionsIndexedKey); {
		case err == nil:
			s.indexed.Store(true)
			return s.recordsAt(ctx, index)
		case !errors.Is(err, kv.ErrNotFound):
			return nil, err
		}
	}
	var out []Record
	err := s.Store.List(ctx, recordPrefix, func(_ string, v []byte) error {
		var r Record
		if err := json.Unmarshal(v, &r); err != nil {
			return err
		}
		if index < 0 || r.hasIndex(index) {
			out = append(out, r)
		}
		return nil
	})
	slices.SortFunc(out, compareRecords)
	return out, err
}

// compareRecords orders records by issue time, then id: the order of
// Records and of the pages of RecordsPage.
func compareRecords(a, b Record) int {
	if c := a.IssuedAt.Compare(b.IssuedAt); c != 0 {
		return c
	}
	return strings.Compare(a.ID, b.ID)
}

// MaxRecordsLimit bounds the records of one page of RecordsPage, and
// DefaultRecordsLimit is a page's size when the caller gives none.
const (
	MaxRecordsLimit     = 1000
	DefaultRecordsLimit = 100
)

// ErrBadCursor is returned for a cursor that is not a next cursor this
// issuer gave.
var ErrBadCursor = errors.New("issuer: the cursor is not one this server gave")

// RecordPage is a page of issuance records, as GET /issuer/credentials
// answers it; NextCursor, when not empty, asks for the next one.
type RecordPage struct {
	Records    []Record `json:"credentials"`
	NextCursor string   `json:"next_cursor,omitempty"`
}

// RecordsPage returns up to limit (1 to MaxRecordsLimit) of the records
// Records returns for index, those after cursor ("" for the first page),
// in the same order. A record issued while a client pages comes in a
// later page, as its issue time is later.
func (s *Status) RecordsPage(ctx context.Context, index, limit int, cursor string) (RecordPage, error) {
	if limit < 1 || limit > MaxRecordsLimit {
		return RecordPage{}, fmt.Errorf("issuer: page limit %d not in 1..%d", limit, MaxRecordsLimit)
	}
	var after Record
	if cursor != "" {
		var err error
		if after, err = parseRecordCursor(cursor); err != nil {
			return RecordPage{}, err
		}
	}
	all, err := s.Records(ctx, index)
	if err != nil {
		return RecordPage{}, err
	}
	start := 0
	if cursor != "" {
		start, _ = slices.BinarySearchFunc(all, after, compareRecords)
		if start < len(all) && compareRecords(all[start], after) == 0 {
			start++
		}
	}
	page := RecordPage{Records: all[start:min(start+limit, len(all))]}
	if start+limit < len(all) {
		last := page.Records[len(page.Records)-1]
		page.NextCursor = base64.RawURLEncoding.EncodeToString([]byte(last.IssuedAt.Format(time.RFC3339Nano) + " " + last.ID))
	}
	return page, nil
}

// parseRecordCursor reads a next cursor back into the issue time and id
// of the last record of its page.
func parseRecordCursor(cursor string) (Record, error) {
	if len(cursor) > 300 {
		return Record{}, ErrBadCursor
	}
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return Record{}, ErrBadCursor
	}
	at, id, ok := strings.Cut(string(b), " ")
	t, terr := time.Parse(time.RFC3339Nano, at)
	if !ok || terr != nil || id == "" {
		return Record{}, ErrBadCursor
	}
	return Record{IssuedAt: t, ID: id}, nil
}

// recordsAt reads the records the position index names at index.
func (s *Status) recordsAt(ctx context.Context, index int) ([]Record, error) {
	var ids []string
	err := s.Store.List(ctx, positionPrefix+strconv.Itoa(index)+"/", func(_ string, v []byte) error {
		if id := string(v); !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var out []Record
	for _, id := range ids {
		v, err := s.Store.Get(ctx, recordPrefix+id)
		if errors.Is(err, kv.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		var r Record
		if err := json.Unmarshal(v, &r); err != nil {
			return nil, err
		}
		if r.hasIndex(index) {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, compareRecords)
	return out, nil
}

// IndexRecords adds the status list positions of records stored before
// the position index existed, once per store (it returns at once when
// the store is marked indexed). Records written meanwhile index
// themselves, so it may run while the issuer serves, and on several
// instances at once.
func (s *Status) IndexRecords(ctx context.Context) error {
	switch _, err := s.Store.Get(ctx, positionsIndexedKey); {
	case err == nil:
		s.indexed.Store(true)
		return nil
	case !errors.Is(err, kv.ErrNotFound):
		return err
	}
	var batch []kv.Item
	flush := func() error {
		err := s.Store.PutAll(ctx, batch)
		batch = batch[:0]
		return err
	}
	err := s.Store.List(ctx, recordPrefix, func(_ string, v []byte) error {
		var r Record
		if err := json.Unmarshal(v, &r); err != nil {
			return err
		}
		batch = append(batch, r.positionItems()...)
		if len(batch) >= 512 {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err == nil {
		err = s.Store.Put(ctx, positionsIndexedKey, []byte("1"), 0)
	}
	if err != nil {
		return fmt.Errorf("issuer: indexing issuance records: %w", err)
	}
	s.indexed.Store(true)
	return nil
}

func (r *Record) hasIndex(i int) bool {
	if r.StatusIndex != nil && *r.StatusIndex == i {
		return true
	}
	for _, b := range r.Bitstring {
		if b.Index == i {
			return true
		}
	}
	return false
}

// TokenList returns the signed statuslist+jwt of listID and its ETag. A
// token is re-signed when the list changes, or after a quarter of its TTL.
func (s *Status) TokenList(ctx context.Context, listID string) (string, string, error) {
	snap, err := s.Manager.Snapshot(ctx, listID)
	if err != nil {
		return "", "", err
	}
	now := s.now()
	s.mu.Lock()
	c, ok := s.signed[listID]
	s.mu.Unlock()
	if ok && c.version == snap.Version && now.Sub(c.at) < s.ttl()/4 {
		return c.token, snap.ETag(), nil
	}
	l, err := tokenlist.Decode(snap.Bits, snap.Encoded, snap.Size)
	if err != nil {
		return "", "", err
	}
	k, err := s.Keys(ctx, keys.ES256)
	if err != nil {
		return "", "", err
	}
	tok, err := tokenlist.SignJWT(l, s.ListURL+listID, now, now.Add(24*time.Hour), s.ttl(), k.Key, k.KID)
	if err != nil {
		return "", "", err
	}
	s.mu.Lock()
	if s.signed == nil {
		s.signed = map[string]signedList{}
	}
	s.signed[listID] = signedList{version: snap.Version, token: tok, at: now}
	s.mu.Unlock()
	return tok, snap.ETag(), nil
}

// BitstringCredential returns the BitstringStatusListCredential of listID
// secured as a vc+jwt, and its ETag; re-signed like TokenList.
func (s *Status) BitstringCredential(ctx context.Context, listID string) (string, string, error) {
	snap, err := s.Manager.Snapshot(ctx, listID)
	if err != nil {
		return "", "", err
	}
	if snap.Purpose != status.BitstringRevocation && snap.Purpose != status.BitstringSuspension {
		return "", "", status.ErrUnknownList
	}
	now := s.now()
	key := "bitstring/" + listID
	s.mu.Lock()
	c, ok := s.signed[key]
	s.mu.Unlock()
	if ok && c.version == snap.Version && now.Sub(c.at) < s.ttl()/4 {
		return c.token, snap.ETag(), nil
	}
	k, err := s.Keys(ctx, keys.ES256)
	if err != nil {
		return "", "", err
	}
	url := s.BitstringURL + listID
	cred, err := bitstring.NewCredential(bitstring.CredentialParams{ID: url, Issuer: k.DID, ValidFrom: now,
		ValidUntil: now.Add(24 * time.Hour), Purpose: bitstring.Purpose(snap.Purpose), EncodedList: snap.Encoded, TTL: s.ttl()})
	if err != nil {
		return "", "", err
	}
	raw, err := json.Marshal(cred)
	if err != nil {
		return "", "", err
	}
	var vc map[string]any
	if err := json.Unmarshal(raw, &vc); err != nil {
		return "", "", err
	}
	tok, err := jwtvc.IssueVCJWT(vc, jwtvc.IssueOptions{Issuer: k.DID, KID: k.KID, Key: k.Key, IssuedAt: now,
		ValidFrom: now, ValidUntil: now.Add(24 * time.Hour), ID: url})
	if err != nil {
		return "", "", err
	}
	s.mu.Lock()
	if s.signed == nil {
		s.signed = map[string]signedList{}
	}
	s.signed[key] = signedList{version: snap.Version, token: tok, at: now}
	s.mu.Unlock()
	return tok, snap.ETag(), nil
}

func (s *Status) ttl() time.Duration {
	if s.TTL <= 0 {
		return 60 * time.Second
	}
	return s.TTL
}

func (s *Status) now() time.Time {
	if s.Now == nil {
		return time.Now().UTC().Truncate(time.Second)
	}
	return s.Now().UTC().Truncate(time.Second)
}
