// Package status manages medid's credential status lists: it hands out
// list positions to newly issued credentials and records status changes,
// over a key-value store with compare-and-swap.
//
// Three kinds of list exist, one per Purpose: IETF Token Status Lists with
// 2-bit statuses (VALID, INVALID, SUSPENDED) for SD-JWT VCs and mdocs, and
// W3C Bitstring Status Lists for revocation and for suspension. Encoding
// lives in the subpackages tokenlist and bitstring. Lists are stored
// uncompressed, so a status change is a cheap compare-and-swap; Snapshot
// compresses a list once per version (the draft-recommended highest ZLIB
// level costs tens of milliseconds on a sparse 131,072-entry list) and
// hands out the encoded form, ready to sign and serve.
//
// Allocation picks a random free index (a verifier must not learn the order
// of issuance from it) in the current list of its purpose. Each list keeps
// a used-index bitmap in pages of 1024 bits; a page is written with
// compare-and-swap, so concurrent allocations never share an index, and a
// page stops taking entries at half full. When random probes keep finding
// full pages, the list is about half used and a new one is opened, so
// random picking stays cheap.
//
// Revocation is irreversible, as both specs require: SetStatus refuses to
// change an INVALID token status or a set revocation bit.
package status

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Purpose selects a kind of status list.
type Purpose string

// The purposes.
const (
	// TokenStatus lists are IETF Token Status Lists of 2-bit statuses:
	// tokenlist.Valid, Invalid, Suspended (and the application-specific 3).
	TokenStatus Purpose = "token"
	// BitstringRevocation lists are W3C Bitstring Status Lists with
	// statusPurpose "revocation": 1 revokes, for good.
	BitstringRevocation Purpose = "revocation"
	// BitstringSuspension lists are W3C Bitstring Status Lists with
	// statusPurpose "suspension": 1 suspends, 0 reinstates.
	BitstringSuspension Purpose = "suspension"
)

func (p Purpose) check() error {
	switch p {
	case TokenStatus, BitstringRevocation, BitstringSuspension:
		return nil
	}
	return fmt.Errorf("status: unknown purpose %q", string(p))
}

// bits returns the bits per entry of p's lists.
func (p Purpose) bits() int {
	if p == TokenStatus {
		return 2
	}
	return 1
}

// ListRef is a position in a status list: what a credential carries (as
// status.status_list {idx, uri} or a BitstringStatusListEntry) once the
// HTTP layer maps ListID to the list's URL.
type ListRef struct {
	ListID string
	Index  int
}

// Snapshot is a status list at one version, encoded for publication. The
// version changes with every status change: an HTTP layer can serve ETag
// and re-sign only when it changed.
type Snapshot struct {
	ListID  string
	Purpose Purpose
	Size    int // entries
	Bits    int // bits per entry: 2 for TokenStatus, 1 for the bitstrings
	Version uint64
	Created time.Time
	Updated time.Time
	// Encoded is "lst" (tokenlist) for TokenStatus and "encodedList"
	// (bitstring) for the bitstring purposes.
	Encoded string
}

// ETag returns an entity tag for the snapshot's version. It is weak
// (W/"…") because the signed token served for one version differs from
// signer to signer (ES256 signatures are randomised) while meaning the
// same.
func (s Snapshot) ETag() string {
	return `W/"` + s.ListID + "." + strconv.FormatUint(s.Version, 10) + `"`
}

// ErrUnknownList is returned for a list ID that does not exist.
var ErrUnknownList = errors.New("status: unknown list")

// ErrNotAllocated is returned by SetStatus for an index that Allocate never
// handed out.
var ErrNotAllocated = errors.New("status: index not allocated")

// ErrIrreversible is returned by SetStatus when a revoked entry would be
// changed.
var ErrIrreversible = errors.New("status: revocation is irreversible")

// ErrValue is returned for a status value the list's purpose cannot hold.
var ErrValue = errors.New("status: value not allowed for this list")

// ErrRange is returned for an index outside the list.
var ErrRange = errors.New("status: index out of range")

// ErrContention is returned when compare-and-swap kept failing; the
// operation may be retried later (an HTTP layer maps it to 503).
var ErrContention = errors.New("status: too much contention, try again")

// Store is the subset of kv.Store the Manager uses; it returns
// kv.ErrNotFound and kv.ErrConflict.
type Store interface {
	Get(ctx context.Context, key string) ([]byte, error)
	CompareAndSwap(ctx context.Context, key string, old, value []byte, ttl time.Duration) error
	Delete(ctx context.Context, key string) error
}
