package issuer

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gowebpki/jcs"

	"github.com/medid/medid/credentials/status"
	"github.com/medid/medid/credentials/status/tokenlist"
	"github.com/medid/medid/internal/keys"
	"github.com/medid/medid/internal/kv"
)

// recordPrefix keeps issuance records: what was issued, never the claims.
const recordPrefix = "vci/issued/"

// Record is what the issuer keeps about an issued credential.
type Record struct {
	ID            string `json:"id"`
	Configuration string `json:"credential_configuration_id"`
	// Subject is a pseudonym of the holder (a hash of the holder key's
	// thumbprint, salted per issuer), not an identifier of the patient.
	Subject     string    `json:"subject"`
	StatusList  string    `json:"status_list,omitempty"`
	StatusIndex *int      `json:"status_index,omitempty"`
	Status      string    `json:"status"` // valid, suspended, revoked
	IssuedAt    time.Time `json:"issued_at"`
	UpdatedAt   time.Time `json:"updated_at"`
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
	// ListURL is the URL prefix of served lists ("<base>/status/token/").
	ListURL string
	Now     func() time.Time
	// TTL is the ttl claim of served lists: how long verifiers may cache.
	TTL time.Duration

	mu     sync.Mutex
	signed map[string]signedList
}

type signedList struct {
	version uint64
	token   string
	at      time.Time
}

// Allocate implements StatusSource with a random index in a token list.
func (s *Status) Allocate(ctx context.Context) (string, int, error) {
	ref, err := s.Manager.Allocate(ctx, status.TokenStatus)
	if err != nil {
		return "", 0, err
	}
	return s.ListURL + ref.ListID, ref.Index, nil
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
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return s.Store.CompareAndSwap(ctx, recordPrefix+r.ID, nil, b, 0)
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
	if r.StatusIndex == nil {
		return nil, fmt.Errorf("%w: the credential has no status entry", ErrStatusTransition)
	}
	var value uint8
	var next string
	switch action {
	case "revoke":
		value, next = tokenlist.Invalid, "revoked"
	case "suspend":
		value, next = tokenlist.Suspended, "suspended"
	case "reinstate":
		if r.Status != "suspended" {
			return nil, fmt.Errorf("%w: only a suspended credential can be reinstated (it is %s)", ErrStatusTransition, r.Status)
		}
		value, next = tokenlist.Valid, "valid"
	default:
		return nil, fmt.Errorf("unknown action %q", action)
	}
	if r.Status == "revoked" {
		return nil, fmt.Errorf("%w: the credential is revoked, which is final", ErrStatusTransition)
	}
	if r.Status == next {
		return &r, nil // already so: nothing changes, nothing is committed
	}
	listID := strings.TrimPrefix(r.StatusList, s.ListURL)
	ref := status.ListRef{ListID: listID, Index: *r.StatusIndex}
	if err := s.Manager.SetStatus(ctx, ref, value); err != nil {
		if errors.Is(err, status.ErrIrreversible) {
			return nil, fmt.Errorf("%w: %v", ErrStatusTransition, err)
		}
		return nil, err
	}
	if err := s.commit(ctx, listID); err != nil {
		return nil, err
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

// StatusEntryType is the ledger entry type of a status list commitment.
const StatusEntryType = "status-list/version"

// commit appends the digest of the list's current version to the ledger,
// so that a served list can be checked and cannot be silently rewritten.
func (s *Status) commit(ctx context.Context, listID string) error {
	snap, err := s.Manager.Snapshot(ctx, listID)
	if err != nil {
		return err
	}
	sum := sha256.Sum256([]byte(snap.Encoded))
	raw, err := json.Marshal(map[string]any{"v": 1, "type": StatusEntryType, "list": s.ListURL + listID,
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
// index (index < 0: all), ordered by issue time.
func (s *Status) Records(ctx context.Context, index int) ([]Record, error) {
	var out []Record
	err := s.Store.List(ctx, recordPrefix, func(_ string, v []byte) error {
		var r Record
		if err := json.Unmarshal(v, &r); err != nil {
			return err
		}
		if index < 0 || (r.StatusIndex != nil && *r.StatusIndex == index) {
			out = append(out, r)
		}
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].IssuedAt.Before(out[j].IssuedAt) })
	return out, err
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
