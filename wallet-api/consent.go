package walletapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/medid/medid/credentials/health"
	"github.com/medid/medid/credentials/status/bitstring"
	"github.com/medid/medid/internal/kv"
	"github.com/medid/medid/internal/ledger"
)

// ConsentOptions are the dependencies of the consent and access log
// routes, which the server wires (walletapi imports neither the issuer nor
// the verifier). Each is optional: without ConsentIssuer the consent
// routes are not registered, without AccessLog (or without LedgerProofs
// and LedgerKey, which it needs) the access log route is not.
type ConsentOptions struct {
	// ConsentIssuer makes an offer of a HealthConsentCredential with the
	// given claims; the wallet redeems it like any offer.
	ConsentIssuer ConsentIssuer
	// ConsentRevoker revokes a consent at its issuer. Without it, DELETE
	// /wallet/consents/{id} answers 501.
	ConsentRevoker ConsentRevoker
	// AccessLog is the verifier's access log.
	AccessLog AccessLog
	// LedgerProofs gives the checkpoints and inclusion proofs the access
	// log's entries are checked with (a *ledger.Log is one).
	LedgerProofs LedgerProofs
	// LedgerKey is the ledger's note verifier key
	// ("origin+hash+base64key"): every checkpoint from LedgerProofs is
	// verified against it, whatever the source.
	LedgerKey string
}

// ConsentIssuer obtains consent credentials for the wallet's patients.
type ConsentIssuer interface {
	// OfferConsent creates a single-use credential offer (an
	// openid-credential-offer:// link, without a transaction code) for
	// one HealthConsentCredential in dc+sd-jwt with these claims, already
	// validated by the wallet. It returns a *FieldError for claims the
	// issuer refuses.
	OfferConsent(ctx context.Context, claims map[string]any) (offerURI string, err error)
}

// ConsentRevoker revokes consents at their issuer.
type ConsentRevoker interface {
	// Revoke revokes the consent credential whose status entry is index
	// in the status list at statusListURI (a token status list, or a
	// bitstring revocation list). Revoking a revoked credential succeeds.
	// It returns ErrUnknownStatusEntry when the issuer has issued no
	// consent credential at that entry.
	Revoke(ctx context.Context, statusListURI string, index int) error
}

// ErrUnknownStatusEntry is what a ConsentRevoker returns for a status
// entry of no consent credential it issued.
var ErrUnknownStatusEntry = errors.New("walletapi: the issuer has no consent credential at this status entry")

// LedgerProofs gives the ledger's checkpoints and inclusion proofs.
// *ledger.Log implements it.
type LedgerProofs interface {
	// Checkpoint returns the latest checkpoint. Only its Raw form is
	// used: the wallet verifies it again against Options.LedgerKey.
	Checkpoint(ctx context.Context) (ledger.Checkpoint, error)
	// InclusionProof returns the proof of the entry at index in the tree
	// of treeSize entries.
	InclusionProof(ctx context.Context, index, treeSize uint64) ([][]byte, error)
}

// ConsentRequest is POST /wallet/consents: the claims of the consent, less
// the patient, who is the account (KeyID chooses which holder key's
// did:jwk; the oldest by default).
type ConsentRequest struct {
	Grantee        ConsentGrantee `json:"grantee"`
	Scopes         []string       `json:"scopes"`
	Purposes       []string       `json:"purposes"`
	ValidFrom      string         `json:"valid_from"`
	ValidUntil     string         `json:"valid_until"`
	ExcludedLabels []string       `json:"excluded_labels,omitempty"`
	Delegable      bool           `json:"delegable"`
	KeyID          string         `json:"key_id,omitempty"`
}

// ConsentGrantee is who a consent is granted to.
type ConsentGrantee struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Kind string `json:"kind"`
}

// Consent is a consent as the patient sees it.
type Consent struct {
	ID           string         `json:"id"`
	CredentialID string         `json:"credential_id"`
	Patient      string         `json:"patient"`
	Grantee      ConsentGrantee `json:"grantee"`
	Scopes       []string       `json:"scopes"`
	Purposes     []string       `json:"purposes"`
	ValidFrom    time.Time      `json:"valid_from"`
	ValidUntil   time.Time      `json:"valid_until"`
	// ExcludedLabels are the sensitivity labels the consent leaves out.
	ExcludedLabels []string `json:"excluded_labels,omitempty"`
	Delegable      bool     `json:"delegable"`
	// Status is valid, suspended, revoked, expired (past valid_until or
	// the credential's expiry) or unknown (StatusError says why).
	Status          string     `json:"status"`
	StatusCheckedAt *time.Time `json:"status_checked_at,omitempty"`
	StatusError     string     `json:"status_error,omitempty"`
	// Active: valid and within its period now.
	Active    bool       `json:"active"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// consentRecord is a consent at rest (sealed under the account's key). It
// keeps the credential's status entries, as the wallet verified them on
// receipt, so that the consent can be revoked and its status shown even if
// the credential itself is deleted from the wallet.
type consentRecord struct {
	V            int         `json:"v"`
	ID           string      `json:"id"`
	CredentialID string      `json:"cid"`
	Issuer       string      `json:"iss"`
	Claims       consentView `json:"claims"`
	Status       []statusRef `json:"status"`
	ExpiresAt    *time.Time  `json:"exp,omitempty"`
	CreatedAt    time.Time   `json:"created"`
	RevokedAt    *time.Time  `json:"revoked,omitempty"`
}

// consentView is the decoded claims of a consent, as stored and shown.
type consentView struct {
	Patient        string         `json:"patient"`
	Grantee        ConsentGrantee `json:"grantee"`
	Scopes         []string       `json:"scopes"`
	Purposes       []string       `json:"purposes"`
	ValidFrom      time.Time      `json:"valid_from"`
	ValidUntil     time.Time      `json:"valid_until"`
	ExcludedLabels []string       `json:"excluded_labels,omitempty"`
	Delegable      bool           `json:"delegable"`
}

// History events of consents.
const (
	EventConsentGranted = "consent_granted"
	EventConsentRevoked = "consent_revoked"
)

// errNoConsentIssuer and errNoConsentRevoker report missing wiring.
var (
	errNoConsentIssuer  = &ServiceError{Status: http.StatusNotImplemented, Kind: "not-configured", Detail: "this wallet has no consent issuer configured"}
	errNoConsentRevoker = &ServiceError{Status: http.StatusNotImplemented, Kind: "not-configured", Detail: "this wallet cannot revoke consents at their issuer (not configured)"}
)

// consentClaims turns a request into the consent's claims (JSON values as
// encoding/json decodes them, which is what health.Decode takes).
func consentClaims(req ConsentRequest, patient string) map[string]any {
	strs := func(l []string) []any {
		out := make([]any, len(l))
		for i, s := range l {
			out[i] = s
		}
		return out
	}
	claims := map[string]any{
		"patient":     patient,
		"grantee":     map[string]any{"id": req.Grantee.ID, "name": req.Grantee.Name, "kind": req.Grantee.Kind},
		"scopes":      strs(req.Scopes),
		"purposes":    strs(req.Purposes),
		"valid_from":  req.ValidFrom,
		"valid_until": req.ValidUntil,
		"delegable":   req.Delegable,
	}
	if len(req.ExcludedLabels) > 0 {
		claims["excluded_labels"] = strs(req.ExcludedLabels)
	}
	// Missing members stay missing, so that the strict decoder says
	// "required" rather than "empty string".
	g := claims["grantee"].(map[string]any)
	for _, k := range []string{"id", "name", "kind"} {
		if g[k] == "" {
			delete(g, k)
		}
	}
	for _, k := range []string{"valid_from", "valid_until"} {
		if claims[k] == "" {
			delete(claims, k)
		}
	}
	return claims
}

// decodeConsent decodes and validates consent claims strictly
// (credentials/health) into their stored form.
func decodeConsent(claims map[string]any, now time.Time) (*consentView, error) {
	c, err := health.DecodeAt(health.TypeHealthConsent, claims, now)
	if err != nil {
		return nil, err
	}
	hc := c.(*health.HealthConsentCredential)
	v := &consentView{Patient: hc.Patient.String(), Grantee: ConsentGrantee{ID: hc.Grantee.ID.String(),
		Name: hc.Grantee.Name, Kind: string(hc.Grantee.Kind)}, ValidFrom: hc.ValidFrom.UTC(),
		ValidUntil: hc.ValidUntil.UTC(), Delegable: hc.Delegable, Scopes: []string{}, Purposes: []string{}}
	for _, s := range hc.Scopes {
		v.Scopes = append(v.Scopes, s.String())
	}
	for _, p := range hc.Purposes {
		v.Purposes = append(v.Purposes, string(p))
	}
	for _, l := range hc.ExcludedLabels {
		v.ExcludedLabels = append(v.ExcludedLabels, string(l))
	}
	return v, nil
}

// CreateConsent grants a consent: it validates the claims with the
// patient set to the did:jwk of the account's holder key (req.KeyID, or
// the oldest), has the ConsentIssuer offer the HealthConsentCredential,
// redeems the offer like any other (the first copy bound to that holder
// key), checks that the credential says what was asked, and stores the
// consent.
func (s *Service) CreateConsent(ctx context.Context, a Account, req ConsentRequest) (*Consent, error) {
	if s.opt.ConsentIssuer == nil {
		return nil, errNoConsentIssuer
	}
	keyID := req.KeyID
	if keyID == "" {
		ks, err := s.Keys(ctx, a)
		if err != nil {
			return nil, err
		}
		if len(ks) == 0 {
			return nil, fieldErr("key_id", "the account has no holder key; create one first")
		}
		keyID = ks[0].ID
	}
	k, err := s.privateKey(ctx, a, keyID)
	if errors.Is(err, ErrNotFound) {
		return nil, fieldErr("key_id", "no holder key with this id in this wallet")
	}
	if err != nil {
		return nil, err
	}
	hk, err := holderKeyView(k, time.Time{})
	if err != nil {
		return nil, err
	}
	now := s.now()
	claims := consentClaims(req, hk.DIDJWK)
	want, err := decodeConsent(claims, now)
	if err != nil {
		var ves health.ValidationErrors
		if errors.As(err, &ves) && len(ves) > 0 {
			reason := ves[0].Reason
			for _, ve := range ves[1:] {
				reason += "; " + ve.Error()
			}
			return nil, &FieldError{Field: ves[0].Field, Reason: reason}
		}
		return nil, err
	}
	if !now.Before(want.ValidUntil) {
		return nil, fieldErr("valid_until", "must be in the future")
	}

	link, err := s.opt.ConsentIssuer.OfferConsent(ctx, claims)
	if err != nil {
		var fe *FieldError
		if errors.As(err, &fe) {
			return nil, err
		}
		return nil, &ServiceError{Status: http.StatusBadGateway, Kind: "issuer-error",
			Detail: "the issuer did not make the consent credential", Cause: err}
	}
	// One copy, bound to the patient's key: a consent is presented by its
	// patient, and a verifier checks the holder key against the consent's
	// patient DID, which a fresh batch key would not match.
	acc, err := s.AcceptOffer(ctx, a, OfferRequest{Offer: link, Accept: true, KeyID: keyID, single: true})
	if err != nil {
		return nil, err
	}
	if len(acc.Credentials) != 1 {
		for _, c := range acc.Credentials {
			_ = s.DeleteCredential(ctx, a, c.ID)
		}
		return nil, invalidConsent(fmt.Errorf("%d credentials for one consent", len(acc.Credentials)))
	}
	credID := acc.Credentials[0].ID
	rec, err := s.credRecord(ctx, a, credID)
	if err != nil {
		return nil, err
	}
	got, err := checkIssuedConsent(rec, want, now)
	if err != nil {
		_ = s.DeleteCredential(ctx, a, credID)
		return nil, invalidConsent(err)
	}
	cr := &consentRecord{V: 1, ID: randomID(16), CredentialID: credID, Issuer: rec.Summary.Issuer, Claims: *got,
		Status: rec.Summary.Status, ExpiresAt: rec.Summary.ExpiresAt, CreatedAt: now.UTC().Truncate(time.Second)}
	v, err := s.vault(a)
	if err != nil {
		return nil, err
	}
	ck := dataKey(a.ID, "consent", cr.ID)
	sealed, err := v.seal(ck, cr)
	if err != nil {
		return nil, err
	}
	if err := s.store.CompareAndSwap(ctx, ck, nil, sealed, 0); err != nil {
		return nil, err
	}
	if err := s.addHistory(ctx, a, historyRecord{Event: EventConsentGranted, CredentialID: credID,
		CredentialIssuer: rec.Summary.CredentialIssuer, ConfigurationID: rec.Summary.ConfigurationID,
		Name: got.Grantee.Name}); err != nil {
		s.opt.Logger.WarnContext(ctx, "wallet history not written", "event", EventConsentGranted, "error", err)
	}
	c := s.consentView(cr, now)
	return &c, nil
}

func invalidConsent(cause error) error {
	return &ServiceError{Status: http.StatusBadGateway, Kind: "invalid-credential",
		Detail: "the issuer's consent credential is not the consent asked for; nothing was stored", Cause: cause}
}

// checkIssuedConsent checks a received consent credential against the
// consent asked for: its type, every claim, and a status entry by which
// it can be revoked.
func checkIssuedConsent(rec *credRecord, want *consentView, now time.Time) (*consentView, error) {
	if t := rec.Summary.Type; t != health.TypeHealthConsent && !strings.HasSuffix(t, "/"+health.TypeHealthConsent) {
		return nil, fmt.Errorf("credential type %q", t)
	}
	got, err := decodeConsent(rec.Claims, now)
	if err != nil {
		return nil, fmt.Errorf("consent claims: %w", err)
	}
	a, _ := json.Marshal(got)
	b, _ := json.Marshal(want)
	if !bytes.Equal(a, b) {
		return nil, errors.New("the consent's claims are not the ones asked for")
	}
	if len(revocationRefs(rec.Summary.Status)) == 0 || len(revocationRefs(rec.Summary.Status)) < rec.Summary.Copies {
		return nil, errors.New("a copy of the consent has no revocation status entry")
	}
	return got, nil
}

// revocationRefs are the status entries that revoke: token status list
// entries and bitstring revocation entries.
func revocationRefs(refs []statusRef) []statusRef {
	var out []statusRef
	for _, r := range refs {
		if r.Kind == "" || (r.Kind == kindBitstring && r.Purpose == string(bitstring.Revocation)) {
			out = append(out, r)
		}
	}
	return out
}

// consentView is the list form of a consent with its status now
// (ensureLists must have run for its lists).
func (s *Service) consentView(cr *consentRecord, now time.Time) Consent {
	c := Consent{ID: cr.ID, CredentialID: cr.CredentialID, Patient: cr.Claims.Patient, Grantee: cr.Claims.Grantee,
		Scopes: cr.Claims.Scopes, Purposes: cr.Claims.Purposes, ValidFrom: cr.Claims.ValidFrom,
		ValidUntil: cr.Claims.ValidUntil, ExcludedLabels: cr.Claims.ExcludedLabels, Delegable: cr.Claims.Delegable,
		CreatedAt: cr.CreatedAt, RevokedAt: cr.RevokedAt}
	if cr.RevokedAt != nil {
		// Revocation is final; the issuer's list may lag behind our cache.
		c.Status = StatusRevoked
		return c
	}
	exp := cr.Claims.ValidUntil
	if cr.ExpiresAt != nil && cr.ExpiresAt.Before(exp) {
		exp = *cr.ExpiresAt
	}
	refs := cr.Status
	if len(refs) == 0 {
		refs = []statusRef{{}}
	}
	var worst statusView
	for i, r := range refs {
		sv := s.statusFor(r, cr.Issuer, &exp, now)
		if i == 0 || statusRank[sv.Status] > statusRank[worst.Status] {
			worst = sv
		}
	}
	c.Status, c.StatusError = worst.Status, worst.Error
	if !worst.CheckedAt.IsZero() {
		t := worst.CheckedAt.UTC()
		c.StatusCheckedAt = &t
	}
	c.Active = c.Status == StatusValid && !now.Before(cr.Claims.ValidFrom) && now.Before(cr.Claims.ValidUntil)
	return c
}

// consentRecords reads the account's consents with their raw sealed form.
func (s *Service) consentRecords(ctx context.Context, a Account) ([]consentRecord, error) {
	v, err := s.vault(a)
	if err != nil {
		return nil, err
	}
	var out []consentRecord
	err = s.store.List(ctx, dataKey(a.ID, "consent", ""), func(k string, raw []byte) error {
		var cr consentRecord
		if err := v.open(k, raw, &cr); err != nil {
			return fmt.Errorf("walletapi: consent %s: %w", k, err)
		}
		out = append(out, cr)
		return nil
	})
	return out, err
}

// Consents lists the account's consents, newest first, with their status.
func (s *Service) Consents(ctx context.Context, a Account) ([]Consent, error) {
	recs, err := s.consentRecords(ctx, a)
	if err != nil {
		return nil, err
	}
	refs := map[statusKey]bool{}
	for _, cr := range recs {
		if cr.RevokedAt != nil {
			continue
		}
		for _, r := range cr.Status {
			refs[statusKey{r.URI, cr.Issuer, r.Kind}] = true
		}
	}
	s.ensureLists(ctx, refs)
	sort.SliceStable(recs, func(i, j int) bool {
		if !recs[i].CreatedAt.Equal(recs[j].CreatedAt) {
			return recs[i].CreatedAt.After(recs[j].CreatedAt)
		}
		return recs[i].ID < recs[j].ID
	})
	now := s.now()
	out := make([]Consent, 0, len(recs))
	for i := range recs {
		out = append(out, s.consentView(&recs[i], now))
	}
	return out, nil
}

// RevokeConsent revokes one of the account's consents: every copy of its
// credential at the issuer (ConsentRevoker), then the consent is marked
// revoked. Revoking a revoked consent changes nothing. If the issuer fails
// part-way, nothing is marked and revoking again finishes the job.
func (s *Service) RevokeConsent(ctx context.Context, a Account, id string) (*Consent, error) {
	v, err := s.vault(a)
	if err != nil {
		return nil, err
	}
	if id == "" || len(id) > 64 || strings.ContainsAny(id, "/") {
		return nil, ErrNotFound
	}
	ck := dataKey(a.ID, "consent", id)
	for range 8 {
		raw, err := s.store.Get(ctx, ck)
		if err != nil {
			return nil, notFound(err)
		}
		var cr consentRecord
		if err := v.open(ck, raw, &cr); err != nil {
			return nil, err
		}
		now := s.now()
		if cr.RevokedAt != nil {
			c := s.consentView(&cr, now)
			return &c, nil
		}
		if s.opt.ConsentRevoker == nil {
			return nil, errNoConsentRevoker
		}
		for _, r := range revocationRefs(cr.Status) {
			if err := s.opt.ConsentRevoker.Revoke(ctx, r.URI, r.Idx); err != nil {
				detail := "the issuer did not revoke the consent; nothing changed, try again"
				if errors.Is(err, ErrUnknownStatusEntry) {
					detail = "the issuer does not know this consent credential, so it cannot revoke it"
				}
				return nil, &ServiceError{Status: http.StatusBadGateway, Kind: "issuer-error", Detail: detail, Cause: err}
			}
		}
		t := now.UTC().Truncate(time.Second)
		cr.RevokedAt = &t
		sealed, err := v.seal(ck, cr)
		if err != nil {
			return nil, err
		}
		err = s.store.CompareAndSwap(ctx, ck, raw, sealed, 0)
		if errors.Is(err, kv.ErrConflict) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if err := s.addHistory(ctx, a, historyRecord{Event: EventConsentRevoked, CredentialID: cr.CredentialID,
			Name: cr.Claims.Grantee.Name}); err != nil {
			s.opt.Logger.WarnContext(ctx, "wallet history not written", "event", EventConsentRevoked, "error", err)
		}
		c := s.consentView(&cr, now)
		return &c, nil
	}
	return nil, errors.New("walletapi: revoke consent: the record kept changing")
}
