package walletapi

import (
	"bytes"
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/medid/medid/credentials/jwtvc"
	"github.com/medid/medid/credentials/status/bitstring"
	"github.com/medid/medid/credentials/status/tokenlist"
	"github.com/medid/medid/internal/keys"
)

// Credential statuses shown to the patient.
const (
	StatusValid     = "valid"
	StatusSuspended = "suspended"
	StatusRevoked   = "revoked"
	StatusExpired   = "expired"
	// StatusUnknown: the status list could not be fetched or verified.
	StatusUnknown = "unknown"
)

// statusCache holds verified status lists per (list URI, issuer), so that
// listing many credentials fetches each list once per StatusTTL. A stale
// list is shown (with its check time) while it is refreshed in the
// background, up to StatusMaxStale; a failed fetch is remembered briefly so
// that an unreachable list is not fetched on every call.
type statusCache struct {
	mu      sync.Mutex
	entries map[statusKey]*statusEntry
	flight  singleflight.Group
}

type statusKey struct{ uri, issuer, kind string }

// kindBitstring marks W3C Bitstring Status List entries.
const kindBitstring = "bitstring"

type statusEntry struct {
	list    *tokenlist.List
	bits    *bitstring.List // for a Bitstring Status List
	purpose string          // its statusPurpose
	fetched time.Time
	fresh   time.Duration // how long after fetched the list is fresh
	err     error
}

// failureTTL is how long a failed status list fetch is remembered.
const failureTTL = 10 * time.Second

func newStatusCache() *statusCache { return &statusCache{entries: map[statusKey]*statusEntry{}} }

// maxStatusEntries bounds the cache; past it, entries too old to be shown
// are dropped.
const maxStatusEntries = 10000

func (c *statusCache) sweep(now time.Time, keep time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) <= maxStatusEntries {
		return
	}
	for k, e := range c.entries {
		if now.Sub(e.fetched) > keep {
			delete(c.entries, k)
		}
	}
}

// statusView is the status of one credential copy.
type statusView struct {
	Status    string
	CheckedAt time.Time
	Error     string
}

// ensureLists makes sure every list in refs has a usable cache entry:
// missing or too-stale ones are fetched now (concurrently, each once);
// stale ones are refreshed in the background.
func (s *Service) ensureLists(ctx context.Context, refs map[statusKey]bool) {
	now := s.now()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for k := range refs {
		s.status.mu.Lock()
		e := s.status.entries[k]
		s.status.mu.Unlock()
		switch {
		case e != nil && e.err != nil && now.Sub(e.fetched) < failureTTL:
			continue
		case e != nil && e.err == nil && now.Sub(e.fetched) < e.fresh:
			continue
		case e != nil && e.err == nil && now.Sub(e.fetched) < e.fresh+s.opt.StatusMaxStale:
			go func() {
				bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opt.FetchTimeout)
				defer cancel()
				s.refreshList(bctx, k)
			}()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			s.refreshList(ctx, k)
		}()
	}
	wg.Wait()
}

// refreshList fetches and verifies one list, once however many callers ask.
func (s *Service) refreshList(ctx context.Context, k statusKey) {
	_, _, _ = s.status.flight.Do(k.uri+"\x00"+k.issuer+"\x00"+k.kind, func() (any, error) {
		// A caller that saw the entry stale may arrive just after another
		// refresh finished: the list is fresh again and not fetched twice.
		s.status.mu.Lock()
		cur := s.status.entries[k]
		s.status.mu.Unlock()
		if cur != nil && cur.err == nil && s.now().Sub(cur.fetched) < cur.fresh {
			return nil, nil
		}
		e := s.fetchList(ctx, k)
		s.status.sweep(s.now(), s.opt.StatusTTL+s.opt.StatusMaxStale)
		s.status.mu.Lock()
		old := s.status.entries[k]
		// A failed refresh does not replace a list that is still usable.
		if e.err == nil || old == nil || old.err != nil {
			s.status.entries[k] = e
		}
		s.status.mu.Unlock()
		if e.err != nil {
			s.opt.Logger.WarnContext(ctx, "status list unavailable", "uri", k.uri, "error", e.err)
		}
		return nil, nil
	})
}

func (s *Service) fetchList(ctx context.Context, k statusKey) *statusEntry {
	ctx, cancel := context.WithTimeout(ctx, s.opt.FetchTimeout)
	defer cancel()
	now := s.now()
	if k.kind == kindBitstring {
		return s.fetchBitstring(ctx, k, now)
	}
	b, err := s.fetch(ctx, k.uri, tokenlist.MediaType, tokenlist.MaxTokenSize)
	if err != nil {
		return &statusEntry{fetched: now, err: err}
	}
	// The list must be signed by the credential's issuer.
	keyFunc := func(ctx context.Context, _ keys.Algorithm, kid string) (crypto.PublicKey, error) {
		return s.issuerKey(ctx, k.issuer, kid, now)
	}
	v, err := tokenlist.VerifyJWT(ctx, string(b), k.uri, keyFunc, now)
	if err != nil {
		return &statusEntry{fetched: now, err: err}
	}
	fresh := s.opt.StatusTTL
	if v.TTL > 0 && v.TTL < fresh {
		fresh = v.TTL
	}
	if !v.ExpiresAt.IsZero() {
		if until := v.ExpiresAt.Sub(now); until < fresh {
			fresh = max(until, 0)
		}
	}
	return &statusEntry{list: v.List, fetched: now, fresh: fresh}
}

// maxBitstringBits bounds a Bitstring Status List the wallet decodes
// (16 MiB of bits).
const maxBitstringBits = 1 << 27

// bitstringAccept asks for a status list credential secured as a vc+jwt
// or, as a JSON object, with a Data Integrity proof.
const bitstringAccept = "application/vc+jwt, application/vc+ld+json;q=0.9, application/vc;q=0.9"

// fetchBitstring fetches a BitstringStatusListCredential secured as a
// vc+jwt or with a Data Integrity proof (a JSON object), verifies it
// (signed by the credential's issuer, valid now, the credential at its own
// URL) and decodes its list.
func (s *Service) fetchBitstring(ctx context.Context, k statusKey, now time.Time) *statusEntry {
	fail := func(err error) *statusEntry { return &statusEntry{fetched: now, err: err} }
	b, err := s.fetch(ctx, k.uri, bitstringAccept, 4<<20)
	if err != nil {
		return fail(err)
	}
	var cred map[string]any
	var issuer string
	if body := bytes.TrimSpace(b); len(body) > 0 && body[0] == '{' {
		cred, _, err = s.verifyDI(ctx, body, "the status list is not checked")
		issuer = jwtvc.IDOf(cred["issuer"])
	} else {
		var v *jwtvc.Verified
		v, err = jwtvc.Verify(ctx, string(body), jwtvc.VerifyOptions{Now: s.opt.Now,
			Key: func(ctx context.Context, iss, kid string, at time.Time) (crypto.PublicKey, error) {
				return s.issuerKey(ctx, iss, kid, at)
			}})
		if err == nil {
			cred, issuer = v.Credential, v.Issuer
		}
	}
	if err != nil {
		return fail(fmt.Errorf("status list credential: %w", err))
	}
	if issuer != k.issuer {
		return fail(fmt.Errorf("status list credential issued by %s, not by the credential's issuer", issuer))
	}
	if id, _ := cred["id"].(string); id != "" && id != k.uri {
		return fail(fmt.Errorf("status list credential %q is not the one at %s", id, k.uri))
	}
	var subj struct {
		Type          string `json:"type"`
		StatusPurpose string `json:"statusPurpose"`
		EncodedList   string `json:"encodedList"`
		TTL           int64  `json:"ttl"`
	}
	raw, _ := json.Marshal(cred["credentialSubject"])
	if err := json.Unmarshal(raw, &subj); err != nil || subj.Type != bitstring.SubjectType {
		return fail(errors.New("status list credential: not a BitstringStatusList"))
	}
	l, err := bitstring.Decode(subj.EncodedList, bitstring.MinEntries, maxBitstringBits)
	if err != nil {
		return fail(err)
	}
	fresh := s.opt.StatusTTL
	if ttl := time.Duration(subj.TTL) * time.Millisecond; ttl > 0 && ttl < fresh {
		fresh = ttl
	}
	return &statusEntry{bits: l, purpose: subj.StatusPurpose, fetched: now, fresh: fresh}
}

// statusFor returns the status of a credential copy with status entry ref
// (zero: none) signed by issuer, from the cache: ensureLists must have run
// for its list.
func (s *Service) statusFor(ref statusRef, issuer string, expiresAt *time.Time, now time.Time) statusView {
	expired := expiresAt != nil && !now.Before(*expiresAt)
	if ref.URI == "" {
		if expired {
			return statusView{Status: StatusExpired}
		}
		return statusView{Status: StatusValid}
	}
	s.status.mu.Lock()
	e := s.status.entries[statusKey{ref.URI, issuer, ref.Kind}]
	s.status.mu.Unlock()
	if e != nil && e.bits != nil {
		return bitstringStatus(e, ref, expired)
	}
	if e == nil || e.list == nil {
		v := statusView{Status: StatusUnknown, Error: "the status list could not be fetched or verified"}
		if e != nil {
			v.CheckedAt = e.fetched
		}
		if expired {
			v.Status, v.Error = StatusExpired, ""
		}
		return v
	}
	v := statusView{CheckedAt: e.fetched}
	val, err := e.list.Get(ref.Idx)
	switch {
	case err != nil:
		v.Status, v.Error = StatusUnknown, "the status list has no entry for this credential"
	case val == tokenlist.Invalid:
		v.Status = StatusRevoked
	case expired:
		v.Status = StatusExpired
	case val == tokenlist.Suspended:
		v.Status = StatusSuspended
	case val == tokenlist.Valid:
		v.Status = StatusValid
	default:
		v.Status, v.Error = StatusUnknown, "the status list holds an unknown value for this credential"
	}
	return v
}

// bitstringStatus reads a Bitstring Status List entry: a set bit revokes
// or suspends, as the list's purpose says (which must be the entry's).
func bitstringStatus(e *statusEntry, ref statusRef, expired bool) statusView {
	v := statusView{CheckedAt: e.fetched}
	set, err := e.bits.Get(ref.Idx)
	switch {
	case err != nil:
		v.Status, v.Error = StatusUnknown, "the status list has no entry for this credential"
	case e.purpose != ref.Purpose:
		v.Status, v.Error = StatusUnknown, "the status list's purpose is not the credential's entry's"
	case set && e.purpose == string(bitstring.Revocation):
		v.Status = StatusRevoked
	case expired:
		v.Status = StatusExpired
	case set && e.purpose == string(bitstring.Suspension):
		v.Status = StatusSuspended
	case set:
		v.Status, v.Error = StatusUnknown, "unknown status purpose"
	default:
		v.Status = StatusValid
	}
	return v
}
