package bitstring

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"
)

// ContextV2 is the JSON-LD context of Verifiable Credentials 2.0, which
// defines the Bitstring Status List terms.
const ContextV2 = "https://www.w3.org/ns/credentials/v2"

// Type names defined by the spec.
const (
	CredentialType = "BitstringStatusListCredential"
	SubjectType    = "BitstringStatusList"
	EntryType      = "BitstringStatusListEntry"
)

// Purpose is a statusPurpose. Only the two with fixed meanings are
// supported.
type Purpose string

// The supported status purposes.
const (
	Revocation Purpose = "revocation" // a set bit revokes; not reversible
	Suspension Purpose = "suspension" // a set bit suspends; reversible
)

func (p Purpose) check() error {
	switch p {
	case Revocation, Suspension:
		return nil
	}
	return fmt.Errorf("bitstring: statusPurpose %q is not supported (revocation, suspension)", string(p))
}

// Credential is an unsigned BitstringStatusListCredential (VC Data Model
// 2.0), ready to be secured as JOSE or with Data Integrity.
type Credential struct {
	Context           []string `json:"@context"`
	ID                string   `json:"id"`
	Type              []string `json:"type"`
	Issuer            string   `json:"issuer"`
	ValidFrom         string   `json:"validFrom"`
	ValidUntil        string   `json:"validUntil,omitempty"`
	CredentialSubject Subject  `json:"credentialSubject"`
}

// Subject is the credentialSubject of a BitstringStatusListCredential.
type Subject struct {
	ID            string  `json:"id"`
	Type          string  `json:"type"`
	StatusPurpose Purpose `json:"statusPurpose"`
	EncodedList   string  `json:"encodedList"`
	// TTL is the spec's "ttl" in milliseconds; omitted (meaning 300000)
	// when zero.
	TTL int64 `json:"ttl,omitempty"`
}

// CredentialParams describe a status list credential.
type CredentialParams struct {
	// ID is the URL the credential is served at: the statusListCredential
	// of its entries. Required.
	ID string
	// Issuer is the issuer's URL or DID. Required.
	Issuer string
	// ValidFrom is required; ValidUntil is optional (zero for none).
	ValidFrom, ValidUntil time.Time
	// Purpose is the list's statusPurpose. Required.
	Purpose Purpose
	// EncodedList is the list, as List.Encode returns it. It must decode
	// to at least MinEntries bits.
	EncodedList string
	// TTL, if not zero, is how long verifiers may cache the credential
	// (the spec's default is five minutes).
	TTL time.Duration
}

// maxCredentialBits bounds the list NewCredential checks: 16 MiB.
const maxCredentialBits = 1 << 27

// NewCredential builds the unsigned credential, checking that its fields
// are present and that EncodedList is a conforming list.
func NewCredential(p CredentialParams) (*Credential, error) {
	if err := checkURL("ID", p.ID); err != nil {
		return nil, err
	}
	if err := checkURL("Issuer", p.Issuer); err != nil {
		return nil, err
	}
	if p.ValidFrom.IsZero() {
		return nil, errors.New("bitstring: credential: ValidFrom is required")
	}
	if !p.ValidUntil.IsZero() && !p.ValidUntil.After(p.ValidFrom) {
		return nil, errors.New("bitstring: credential: ValidUntil must be after ValidFrom")
	}
	if err := p.Purpose.check(); err != nil {
		return nil, err
	}
	if p.TTL < 0 || p.TTL > 0 && p.TTL < time.Millisecond {
		return nil, fmt.Errorf("bitstring: credential: TTL %v must be zero or at least a millisecond", p.TTL)
	}
	if _, err := Decode(p.EncodedList, MinEntries, maxCredentialBits); err != nil {
		return nil, fmt.Errorf("bitstring: credential: %w", err)
	}
	c := &Credential{
		Context:   []string{ContextV2},
		ID:        p.ID,
		Type:      []string{"VerifiableCredential", CredentialType},
		Issuer:    p.Issuer,
		ValidFrom: p.ValidFrom.UTC().Format(time.RFC3339),
		CredentialSubject: Subject{
			ID:            p.ID + "#list",
			Type:          SubjectType,
			StatusPurpose: p.Purpose,
			EncodedList:   p.EncodedList,
			TTL:           p.TTL.Milliseconds(),
		},
	}
	if !p.ValidUntil.IsZero() {
		c.ValidUntil = p.ValidUntil.UTC().Format(time.RFC3339)
	}
	return c, nil
}

func checkURL(field, s string) error {
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() {
		return fmt.Errorf("bitstring: credential: %s %q is not an absolute URL", field, s)
	}
	return nil
}

// Entry is a credentialStatus entry of type BitstringStatusListEntry.
type Entry struct {
	ID                   string  `json:"id,omitempty"`
	Type                 string  `json:"type"`
	StatusPurpose        Purpose `json:"statusPurpose"`
	StatusListIndex      string  `json:"statusListIndex"`
	StatusListCredential string  `json:"statusListCredential"`
}

// NewEntry returns the credentialStatus entry for index in the list
// credential served at statusListCredential. Its id is
// statusListCredential#index, which the spec requires to differ from the
// list's URL.
func NewEntry(statusListCredential string, purpose Purpose, index int) (Entry, error) {
	if err := checkURL("statusListCredential", statusListCredential); err != nil {
		return Entry{}, err
	}
	if err := purpose.check(); err != nil {
		return Entry{}, err
	}
	if index < 0 {
		return Entry{}, fmt.Errorf("%w: %d", ErrRange, index)
	}
	i := strconv.Itoa(index)
	return Entry{
		ID:                   statusListCredential + "#" + i,
		Type:                 EntryType,
		StatusPurpose:        purpose,
		StatusListIndex:      i,
		StatusListCredential: statusListCredential,
	}, nil
}

// Index parses StatusListIndex: a base-10 integer of ASCII digits only (no
// sign or spaces). Indexes beyond maxBytes*8 cannot address any list this
// package decodes and are ErrRange.
func (e Entry) Index() (int, error) {
	return ParseIndex(e.StatusListIndex)
}

// ParseIndex parses a statusListIndex. See Entry.Index.
func ParseIndex(s string) (int, error) {
	if s == "" {
		return 0, errors.New("bitstring: statusListIndex is empty")
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("bitstring: statusListIndex %.20q is not a base-10 integer", s)
		}
		n = n*10 + int(c-'0')
		if n >= maxBytes*8 {
			return 0, fmt.Errorf("%w: statusListIndex %.20q", ErrRange, s)
		}
	}
	return n, nil
}
