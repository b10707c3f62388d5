package audit

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/medid/medid/did"
)

// Kind says what was recorded.
type Kind string

// The kinds of entries.
const (
	KindVerification   Kind = "verification"
	KindLogin          Kind = "login"
	KindAccessDecision Kind = "access-decision"
)

// Valid reports whether k is one of the kinds above.
func (k Kind) Valid() bool {
	return k == KindVerification || k == KindLogin || k == KindAccessDecision
}

// Outcome is how the recorded event ended.
type Outcome string

// The outcomes: permit and deny for access decisions, verified and failed
// for verifications and logins.
const (
	OutcomePermit   Outcome = "permit"
	OutcomeDeny     Outcome = "deny"
	OutcomeVerified Outcome = "verified"
	OutcomeFailed   Outcome = "failed"
)

// Valid reports whether o is one of the outcomes above.
func (o Outcome) Valid() bool {
	return o == OutcomePermit || o == OutcomeDeny || o == OutcomeVerified || o == OutcomeFailed
}

// EntryType is the "type" of the ledger entry that commits to an access
// log entry.
const EntryType = "access-log/entry"

// SaltSize is the size in bytes of a commitment salt.
const SaltSize = 32

// Bounds on an entry's lists and strings, so that a caller cannot slip
// bulky data (or data at all) into the log.
const (
	maxList = 64
	maxText = 256
)

// Entry is one access log entry.
//
// The caller of Record fills Kind, Verifier, Client, PatientDID, the lists,
// Purpose, Outcome and Reasons, and may set Time (zero means now). Record
// sets Patient, Seq and Prev. Entries read back from the log have
// PatientDID zero: the DID is never stored.
type Entry struct {
	// Kind says what was recorded.
	Kind Kind
	// Time is when it happened.
	Time time.Time
	// Verifier is who asked: the verifier's identifier (its DID or
	// client_id).
	Verifier string
	// Client is the party the verifier acted for, if any: the OpenID
	// Connect client, or the grantee that asked for access.
	Client string
	// PatientDID is the patient's DID, as given to Record. It is input
	// only: Record turns it into Patient and never stores it.
	PatientDID did.DID
	// Patient is the patient's pseudonym (see the package doc); "" when
	// the event concerned no known patient.
	Patient string
	// CredentialTypes are the types of the credentials involved.
	CredentialTypes []string
	// ClaimNames are the names (paths, like "address.country") of the
	// claims disclosed. Never values.
	ClaimNames []string
	// Scopes are the scopes requested or granted.
	Scopes []string
	// Purpose is why: the purpose of use or the session's purpose.
	Purpose string
	// Outcome is how it ended.
	Outcome Outcome
	// Reasons are the machine-readable reason codes behind the outcome.
	Reasons []string
	// Seq is the entry's position in the patient's chain, from 1; 0 when
	// there is no patient.
	Seq uint64
	// Prev is the commitment of the patient's previous entry; "" for the
	// first.
	Prev string
}

// committed is the JSON form of an Entry that the commitment covers.
// Persistence and the wire have their own structs; this one is the
// canonical content. Canonical writes it directly, in JCS order; a new
// member goes there too.
type committed struct {
	V               int      `json:"v"`
	Kind            Kind     `json:"kind"`
	Time            string   `json:"time"`
	Verifier        string   `json:"verifier"`
	Client          string   `json:"client,omitempty"`
	Patient         string   `json:"patient,omitempty"`
	CredentialTypes []string `json:"credential_types,omitempty"`
	ClaimNames      []string `json:"claim_names,omitempty"`
	Scopes          []string `json:"scopes,omitempty"`
	Purpose         string   `json:"purpose,omitempty"`
	Outcome         Outcome  `json:"outcome"`
	Reasons         []string `json:"reasons,omitempty"`
	Seq             uint64   `json:"seq,omitempty"`
	Prev            string   `json:"prev,omitempty"`
}

// Canonical returns the RFC 8785 (JCS) canonical JSON of e that its
// commitment covers. PatientDID is not part of it.
func Canonical(e Entry) ([]byte, error) {
	if e.Seq > maxExactInt {
		return nil, fmt.Errorf("audit: entry seq %d is past the integers JSON holds exactly", e.Seq)
	}
	// The members of committed, in JCS order.
	w := newCanonWriter(256)
	w.strsOmit("claim_names", e.ClaimNames)
	w.strOmit("client", e.Client)
	w.strsOmit("credential_types", e.CredentialTypes)
	w.str("kind", string(e.Kind))
	w.str("outcome", string(e.Outcome))
	w.strOmit("patient", e.Patient)
	w.strOmit("prev", e.Prev)
	w.strOmit("purpose", e.Purpose)
	w.strsOmit("reasons", e.Reasons)
	w.strsOmit("scopes", e.Scopes)
	if e.Seq != 0 {
		w.uint("seq", e.Seq)
	}
	w.str("time", e.Time.UTC().Format(time.RFC3339Nano))
	w.uint("v", 1)
	w.str("verifier", e.Verifier)
	return w.bytes(), nil
}

// parseCanonical decodes the committed JSON of an entry (as stored).
func parseCanonical(b []byte) (Entry, error) {
	var c committed
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Entry{}, fmt.Errorf("audit: stored entry: %w", err)
	}
	if c.V != 1 {
		return Entry{}, fmt.Errorf("audit: stored entry version %d", c.V)
	}
	t, err := time.Parse(time.RFC3339Nano, c.Time)
	if err != nil {
		return Entry{}, fmt.Errorf("audit: stored entry time: %w", err)
	}
	return Entry{Kind: c.Kind, Time: t.UTC(), Verifier: c.Verifier, Client: c.Client, Patient: c.Patient,
		CredentialTypes: c.CredentialTypes, ClaimNames: c.ClaimNames, Scopes: c.Scopes, Purpose: c.Purpose,
		Outcome: c.Outcome, Reasons: c.Reasons, Seq: c.Seq, Prev: c.Prev}, nil
}

// VerifyEntry recomputes the commitment to e under salt:
// base64url(SHA-256(salt || Canonical(e))). A patient compares it with the
// stored commitment and with the ledger leaf at the entry's index (see
// LedgerEntry).
func VerifyEntry(e Entry, salt []byte) (string, error) {
	if len(salt) != SaltSize {
		return "", fmt.Errorf("audit: a salt is %d bytes, not %d", SaltSize, len(salt))
	}
	c, err := Canonical(e)
	if err != nil {
		return "", err
	}
	return commit(salt, c), nil
}

func commit(salt, canonical []byte) string {
	h := sha256.New()
	h.Write(salt)
	h.Write(canonical)
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// ledgerEntry is the JSON appended to the ledger (LedgerEntry writes it
// directly, in JCS order).
type ledgerEntry struct {
	V          int    `json:"v"`
	Type       string `json:"type"`
	Commitment string `json:"commitment"`
	Time       string `json:"time"`
}

// LedgerEntry returns the ledger entry (JCS) that commits to an access log
// entry with the given commitment and time: the exact bytes of the leaf.
func LedgerEntry(commitment string, t time.Time) ([]byte, error) {
	// The members of ledgerEntry, in JCS order.
	w := newCanonWriter(128)
	w.str("commitment", commitment)
	w.str("time", t.UTC().Format(time.RFC3339Nano))
	w.str("type", EntryType)
	w.uint("v", 1)
	return w.bytes(), nil
}

// ParseLedgerEntry decodes an access log ledger entry. ok is false for
// entries of other types (DID operations, status lists).
func ParseLedgerEntry(data []byte) (commitment string, t time.Time, ok bool, err error) {
	var probe struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return "", time.Time{}, false, fmt.Errorf("audit: ledger entry: %w", err)
	}
	if probe.Type != EntryType {
		return "", time.Time{}, false, nil
	}
	var le ledgerEntry
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&le); err != nil {
		return "", time.Time{}, true, fmt.Errorf("audit: ledger entry: %w", err)
	}
	if le.V != 1 {
		return "", time.Time{}, true, fmt.Errorf("audit: ledger entry version %d", le.V)
	}
	t, err = time.Parse(time.RFC3339Nano, le.Time)
	if err != nil {
		return "", time.Time{}, true, fmt.Errorf("audit: ledger entry time: %w", err)
	}
	return le.Commitment, t.UTC(), true, nil
}

// PseudonymFrom computes a patient's pseudonym from the patient's salt (see
// Service.PatientSalt): base64url(HMAC-SHA256(salt, DID)). Wallets use it
// to recognise their own entries.
func PseudonymFrom(salt []byte, patient did.DID) string {
	m := hmac.New(sha256.New, salt)
	m.Write([]byte(patient.String()))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// validPseudonym reports whether s has the shape of a pseudonym: 43
// base64url characters (a SHA-256 output).
func validPseudonym(s string) bool {
	if len(s) != 43 {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil
}

// ErrInvalidEntry is wrapped by Record's errors about the entry itself.
var ErrInvalidEntry = errors.New("audit: invalid entry")

// check validates the caller's part of an entry.
func (e *Entry) check() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidEntry, fmt.Sprintf(format, args...))
	}
	switch {
	case !e.Kind.Valid():
		return bad("kind %q", e.Kind)
	case !e.Outcome.Valid():
		return bad("outcome %q", e.Outcome)
	case e.Verifier == "":
		return bad("no verifier")
	case e.Patient != "":
		return bad("Patient is set by Record; pass the DID in PatientDID")
	case !e.Time.IsZero() && (e.Time.Year() < 1970 || e.Time.Year() > 2200):
		return bad("time out of range")
	}
	for name, s := range map[string]string{"verifier": e.Verifier, "client": e.Client, "purpose": e.Purpose} {
		if !token(s, maxText, true) {
			return bad("%s is not short printable text", name)
		}
	}
	for name, l := range map[string][]string{"credential_types": e.CredentialTypes, "claim_names": e.ClaimNames,
		"scopes": e.Scopes, "reasons": e.Reasons} {
		if len(l) > maxList {
			return bad("more than %d %s", maxList, name)
		}
		for _, s := range l {
			if s == "" || !token(s, maxText, false) {
				return bad("%s holds a value that is not a short name", name)
			}
		}
	}
	return nil
}

// Names returns the names of l that an entry can hold as credential
// types, claim names, scopes or reasons (short printable text without
// spaces), sorted, without duplicates and at most 64 of them, so that a
// credential with odd or very many claim names is still logged, with the
// names that can be.
func Names(l []string) []string {
	out := slices.DeleteFunc(normalise(l), func(s string) bool { return s == "" || !token(s, maxText, false) })
	if len(out) > maxList {
		out = out[:maxList]
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// token reports whether s is at most max bytes of printable text, with
// spaces only if spaces is true.
func token(s string, max int, spaces bool) bool {
	if len(s) > max {
		return false
	}
	return !strings.ContainsFunc(s, func(r rune) bool {
		return !unicode.IsPrint(r) || (!spaces && unicode.IsSpace(r)) || r == unicode.ReplacementChar
	})
}

// normalise sorts and de-duplicates a name list (order carries no meaning,
// and a canonical order keeps commitments reproducible).
func normalise(l []string) []string {
	if len(l) == 0 {
		return nil
	}
	out := slices.Clone(l)
	slices.Sort(out)
	return slices.Compact(out)
}
