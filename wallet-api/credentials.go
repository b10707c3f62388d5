package walletapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/medid/medid/internal/keys"
	"github.com/medid/medid/internal/kv"
	"github.com/medid/medid/wallet-api/vciclient"
)

// Credential is a stored credential as the patient sees it in a list.
type Credential struct {
	ID               string              `json:"id"`
	Format           string              `json:"format"`
	ConfigurationID  string              `json:"credential_configuration_id"`
	CredentialIssuer string              `json:"credential_issuer"`
	IssuerDisplay    []vciclient.Display `json:"issuer_display,omitempty"`
	Display          []vciclient.Display `json:"display,omitempty"`
	// Issuer is the credential's signer (its iss), e.g. a did:medid.
	Issuer     string     `json:"issuer"`
	Type       string     `json:"type,omitempty"`
	IssuedAt   *time.Time `json:"issued_at,omitempty"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	ReceivedAt time.Time  `json:"received_at"`
	// Status is valid, suspended, revoked, expired or unknown (the status
	// list could not be fetched or verified; StatusError says why).
	Status          string     `json:"status"`
	StatusCheckedAt *time.Time `json:"status_checked_at,omitempty"`
	StatusError     string     `json:"status_error,omitempty"`
	// Copies is how many unlinkable copies the wallet holds (batch issuance).
	Copies int `json:"copies"`
}

// CredentialDetail is one credential with its claims.
type CredentialDetail struct {
	Credential
	Claims       map[string]any               `json:"claims"`
	ClaimDisplay []vciclient.ClaimDescription `json:"claim_display,omitempty"`
	// HolderDIDs are the did:jwk of each copy's key.
	HolderDIDs []string `json:"holder_dids"`
	// StatusEntries are the copies' entries in their issuer's status lists.
	StatusEntries []StatusEntry `json:"status_entries,omitempty"`
}

// StatusEntry is a credential's entry in a status list: a Token Status
// List (type "token") or a Bitstring Status List (type "bitstring", with
// its purpose).
type StatusEntry struct {
	Type    string `json:"type"`
	URI     string `json:"uri"`
	Index   int    `json:"idx"`
	Purpose string `json:"purpose,omitempty"`
}

// statusRef is a copy's entry in a status list: a Token Status List (Kind
// "") or a W3C Bitstring Status List (Kind "bitstring", with its Purpose,
// revocation or suspension; URI is the statusListCredential).
type statusRef struct {
	URI     string `json:"uri"`
	Idx     int    `json:"idx"`
	Kind    string `json:"kind,omitempty"`
	Purpose string `json:"purpose,omitempty"`
}

// credSummary is what a list shows, stored apart from the credential so
// that listing decrypts only small records. Display metadata, the same for
// every credential of one configuration, is stored once per account and
// configuration (displayRecord) and named by DisplayRef.
type credSummary struct {
	ID               string      `json:"id"`
	Format           string      `json:"format"`
	ConfigurationID  string      `json:"cfg"`
	CredentialIssuer string      `json:"ci"`
	DisplayRef       string      `json:"dref,omitempty"`
	Issuer           string      `json:"iss"`
	Type             string      `json:"type,omitempty"`
	IssuedAt         *time.Time  `json:"iat,omitempty"`
	ExpiresAt        *time.Time  `json:"exp,omitempty"`
	ReceivedAt       time.Time   `json:"recv"`
	Status           []statusRef `json:"status,omitempty"`
	// StatusUnchecked: the credential names a status mechanism the wallet
	// does not check (not a Token Status List); its status is unknown.
	StatusUnchecked bool `json:"status_unchecked,omitempty"`
	Copies          int  `json:"copies"`
}

// displayRecord is the display metadata of one issuer's configuration.
type displayRecord struct {
	IssuerDisplay []vciclient.Display `json:"idisp,omitempty"`
	Display       []vciclient.Display `json:"disp,omitempty"`
}

func displayRef(credentialIssuer, cfgID string) string {
	return hashSecret("display", credentialIssuer+"\x00"+cfgID)[:22]
}

// credRecord is a stored credential: the summary, its display metadata,
// the verified claims and every copy with its own key.
type credRecord struct {
	V            int                          `json:"v"`
	Summary      credSummary                  `json:"summary"`
	Display      displayRecord                `json:"display"`
	Claims       map[string]any               `json:"claims"`
	ClaimDisplay []vciclient.ClaimDescription `json:"claim_display,omitempty"`
	Copies       []copyRecord                 `json:"copies"`
	// Types are an ldp_vc's types, for DCQL type_values.
	Types []string `json:"types,omitempty"`
}

// copyRecord is one copy of a credential and the private key it is bound
// to (a fresh key per copy, so that copies cannot be linked).
type copyRecord struct {
	Credential json.RawMessage `json:"credential"`
	Alg        keys.Algorithm  `json:"alg"`
	PKCS8      []byte          `json:"pkcs8"`
	HolderDID  string          `json:"holder_did"`
	Status     *statusRef      `json:"status,omitempty"`
	Used       bool            `json:"used,omitempty"`
}

func (s *Service) putCredential(ctx context.Context, v *vault, acct string, rec *credRecord) error {
	ck, sk := dataKey(acct, "cred", rec.Summary.ID), dataKey(acct, "sum", rec.Summary.ID)
	rec.Summary.DisplayRef = displayRef(rec.Summary.CredentialIssuer, rec.Summary.ConfigurationID)
	dk := dataKey(acct, "disp", rec.Summary.DisplayRef)
	disp, err := v.seal(dk, rec.Display)
	if err != nil {
		return err
	}
	if err := s.store.Put(ctx, dk, disp, 0); err != nil {
		return err
	}
	sealed, err := v.seal(ck, rec)
	if err != nil {
		return err
	}
	sum, err := v.seal(sk, rec.Summary)
	if err != nil {
		return err
	}
	if err := s.store.CompareAndSwap(ctx, ck, nil, sealed, 0); err != nil {
		return err
	}
	if err := s.store.CompareAndSwap(ctx, sk, nil, sum, 0); err != nil {
		_ = s.store.Delete(ctx, ck)
		return err
	}
	return nil
}

// Credentials lists the account's credentials, newest first, each with its
// current status. Status lists are fetched at most once per list (and
// cached; see Options.StatusTTL), never once per credential.
func (s *Service) Credentials(ctx context.Context, a Account) ([]Credential, error) {
	v, err := s.vault(a)
	if err != nil {
		return nil, err
	}
	var sums []credSummary
	refs := map[statusKey]bool{}
	err = s.store.List(ctx, dataKey(a.ID, "sum", ""), func(k string, raw []byte) error {
		var sum credSummary
		if err := v.open(k, raw, &sum); err != nil {
			return fmt.Errorf("walletapi: credential summary %s: %w", k, err)
		}
		for _, r := range sum.Status {
			refs[statusKey{r.URI, sum.Issuer, r.Kind}] = true
		}
		sums = append(sums, sum)
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.ensureLists(ctx, refs)
	order := make([]int, len(sums))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(i, j int) bool { return sums[order[i]].ReceivedAt.After(sums[order[j]].ReceivedAt) })
	displays := map[string]*displayRecord{}
	now := s.now()
	out := make([]Credential, len(sums))
	for i, j := range order {
		ref := sums[j].DisplayRef
		d, ok := displays[ref]
		if !ok {
			d = s.display(ctx, v, a.ID, ref)
			displays[ref] = d
		}
		out[i] = s.view(&sums[j], d, now)
	}
	return out, nil
}

// statusRank orders statuses from best to worst, to summarise copies.
var statusRank = map[string]int{StatusValid: 0, StatusUnknown: 1, StatusSuspended: 2, StatusExpired: 3, StatusRevoked: 4}

// display loads a display record; a missing one shows no display.
func (s *Service) display(ctx context.Context, v *vault, acct, ref string) *displayRecord {
	d := &displayRecord{}
	if ref == "" {
		return d
	}
	k := dataKey(acct, "disp", ref)
	raw, err := s.store.Get(ctx, k)
	if err == nil {
		err = v.open(k, raw, d)
	}
	if err != nil && !errors.Is(err, kv.ErrNotFound) {
		s.opt.Logger.WarnContext(ctx, "credential display metadata unreadable", "error", err)
	}
	return d
}

// view is the list form of sum with its status: the worst status of its
// copies (each copy of a batch has its own status entry).
func (s *Service) view(sum *credSummary, d *displayRecord, now time.Time) Credential {
	c := Credential{ID: sum.ID, Format: sum.Format, ConfigurationID: sum.ConfigurationID,
		CredentialIssuer: sum.CredentialIssuer, IssuerDisplay: d.IssuerDisplay, Display: d.Display,
		Issuer: sum.Issuer, Type: sum.Type, IssuedAt: sum.IssuedAt, ExpiresAt: sum.ExpiresAt,
		ReceivedAt: sum.ReceivedAt, Copies: sum.Copies}
	refs := sum.Status
	if len(refs) == 0 {
		refs = []statusRef{{}}
	}
	var worst statusView
	for i, r := range refs {
		sv := s.statusFor(r, sum.Issuer, sum.ExpiresAt, now)
		if i == 0 || statusRank[sv.Status] > statusRank[worst.Status] {
			worst = sv
		}
	}
	if sum.StatusUnchecked && statusRank[worst.Status] < statusRank[StatusUnknown] {
		worst = statusView{Status: StatusUnknown, Error: "the credential uses a status mechanism this wallet does not check"}
	}
	c.Status, c.StatusError = worst.Status, worst.Error
	if !worst.CheckedAt.IsZero() {
		t := worst.CheckedAt.UTC()
		c.StatusCheckedAt = &t
	}
	return c
}

func (s *Service) credRecord(ctx context.Context, a Account, id string) (*credRecord, error) {
	v, err := s.vault(a)
	if err != nil {
		return nil, err
	}
	if id == "" || len(id) > 64 || strings.ContainsAny(id, "/") {
		return nil, ErrNotFound
	}
	ck := dataKey(a.ID, "cred", id)
	raw, err := s.store.Get(ctx, ck)
	if err != nil {
		return nil, notFound(err)
	}
	var rec credRecord
	if err := v.open(ck, raw, &rec); err != nil {
		return nil, err
	}
	return &rec, nil
}

// Credential returns one of the account's credentials with its claims.
func (s *Service) Credential(ctx context.Context, a Account, id string) (*CredentialDetail, error) {
	rec, err := s.credRecord(ctx, a, id)
	if err != nil {
		return nil, err
	}
	refs := map[statusKey]bool{}
	for _, r := range rec.Summary.Status {
		refs[statusKey{r.URI, rec.Summary.Issuer, r.Kind}] = true
	}
	s.ensureLists(ctx, refs)
	d := &CredentialDetail{Credential: s.view(&rec.Summary, &rec.Display, s.now()), Claims: rec.Claims, ClaimDisplay: rec.ClaimDisplay}
	for _, c := range rec.Copies {
		d.HolderDIDs = append(d.HolderDIDs, c.HolderDID)
	}
	for _, r := range rec.Summary.Status {
		typ := "token"
		if r.Kind == kindBitstring {
			typ = kindBitstring
		}
		d.StatusEntries = append(d.StatusEntries, StatusEntry{Type: typ, URI: r.URI, Index: r.Idx, Purpose: r.Purpose})
	}
	if d.Claims == nil {
		d.Claims = map[string]any{}
	}
	return d, nil
}

// DeleteCredential deletes one of the account's credentials and every
// copy's key.
func (s *Service) DeleteCredential(ctx context.Context, a Account, id string) error {
	rec, err := s.credRecord(ctx, a, id)
	if err != nil {
		return err
	}
	if err := s.store.Delete(ctx, dataKey(a.ID, "sum", id)); err != nil {
		return err
	}
	if err := s.store.Delete(ctx, dataKey(a.ID, "cred", id)); err != nil {
		return err
	}
	return s.addHistory(ctx, a, historyRecord{Event: EventCredentialDeleted, CredentialID: id,
		CredentialIssuer: rec.Summary.CredentialIssuer, ConfigurationID: rec.Summary.ConfigurationID,
		Name: displayName(rec.Display.Display, rec.Summary.ConfigurationID)})
}

func displayName(d []vciclient.Display, fallback string) string {
	for _, x := range d {
		if x.Name != "" && (x.Locale == "" || strings.HasPrefix(x.Locale, "en")) {
			return x.Name
		}
	}
	for _, x := range d {
		if x.Name != "" {
			return x.Name
		}
	}
	return fallback
}

var errNoBinding = errors.New("the credential is not bound to the key the wallet proved")
