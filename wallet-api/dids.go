package walletapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/medid/medid/did/registry"
	"github.com/medid/medid/internal/keys"
)

// LedgerDID is a did:medid the wallet registered for the account, in the
// registrar's client-managed mode: the wallet holds the update and
// recovery keys and signs the operations; the server never sees them.
type LedgerDID struct {
	DID string `json:"did,omitempty"`
	// KeyID is the holder key published as the DID's #key-1
	// (authentication and assertions).
	KeyID     string    `json:"key_id"`
	State     string    `json:"state"` // "registered", or "pending" if registration did not finish
	CreatedAt time.Time `json:"created_at"`
}

// didRecord is a did:medid at rest: its controller keys. It is stored
// before the registration is sent (state pending), so that keys are never
// lost to a crash between the ledger accepting the DID and the wallet
// recording it.
type didRecord struct {
	DID          string         `json:"did,omitempty"`
	KeyID        string         `json:"key_id"`
	UpdateAlg    keys.Algorithm `json:"update_alg"`
	UpdatePKCS8  []byte         `json:"update"`
	RecoveryAlg  keys.Algorithm `json:"recovery_alg"`
	RecoverPKCS8 []byte         `json:"recovery"`
	Created      time.Time      `json:"created"`
}

// ErrNoRegistrar is returned when no registrar URL is configured.
var ErrNoRegistrar = errors.New("walletapi: no did:medid registrar is configured")

// CreateLedgerDID registers a did:medid whose verification key is the
// account's holder key keyID (the oldest holder key when empty), with fresh
// P-256 update and recovery keys kept in the wallet.
func (s *Service) CreateLedgerDID(ctx context.Context, a Account, keyID string) (*LedgerDID, error) {
	if s.opt.RegistrarURL == "" {
		return nil, errNoRegistrar
	}
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
	doc, err := s.holderDocument(ctx, a, keyID)
	if err != nil {
		return nil, err
	}
	upd, err := keys.Generate(keys.ES256)
	if err != nil {
		return nil, err
	}
	rec, err := keys.Generate(keys.ES256)
	if err != nil {
		return nil, err
	}
	ud, err := keys.ExportPKCS8(upd)
	if err != nil {
		return nil, err
	}
	rd, err := keys.ExportPKCS8(rec)
	if err != nil {
		return nil, err
	}
	v, err := s.vault(a)
	if err != nil {
		return nil, err
	}
	r := didRecord{KeyID: keyID, UpdateAlg: upd.Algorithm(), UpdatePKCS8: ud, RecoveryAlg: rec.Algorithm(),
		RecoverPKCS8: rd, Created: s.now().UTC().Truncate(time.Second)}
	k := dataKey(a.ID, "did", upd.Thumbprint())
	sealed, err := v.seal(k, r)
	if err != nil {
		return nil, err
	}
	if err := s.store.CompareAndSwap(ctx, k, nil, sealed, 0); err != nil {
		return nil, err
	}
	cl := &registry.Client{BaseURL: s.opt.RegistrarURL, HTTP: s.http}
	rctx, cancel := context.WithTimeout(ctx, 3*s.opt.FetchTimeout)
	defer cancel()
	st, err := cl.Create(rctx, doc, registry.ClientKeys{Update: upd, Recovery: rec})
	if err != nil {
		_ = s.store.Delete(ctx, k)
		return nil, registrarError("registration", err)
	}
	if !strings.HasPrefix(st.DIDState.DID, "did:medid:") {
		return nil, &ServiceError{Status: http.StatusBadGateway, Kind: "registrar-error", Detail: "the registrar answered without a did:medid"}
	}
	r.DID = st.DIDState.DID
	if sealed, err = v.seal(k, r); err != nil {
		return nil, err
	}
	if err := s.store.Put(ctx, k, sealed, 0); err != nil {
		return nil, err
	}
	return &LedgerDID{DID: r.DID, KeyID: keyID, State: "registered", CreatedAt: r.Created}, nil
}

// errNoRegistrar answers a DID operation on a wallet without a registrar.
var errNoRegistrar = &ServiceError{Status: http.StatusNotImplemented, Kind: "not-configured",
	Detail: "this wallet has no did:medid registrar configured", Cause: ErrNoRegistrar}

// registrarError is the 502 for a registration or operation the registrar
// refused or failed, quoting the registrar's own detail when it gave one.
func registrarError(what string, err error) error {
	detail := "the registrar refused or failed the " + what
	var he *registry.HTTPError
	if errors.As(err, &he) && he.Detail != "" {
		detail += ": " + he.Detail
	}
	return &ServiceError{Status: http.StatusBadGateway, Kind: "registrar-error", Detail: detail, Cause: err}
}

// holderDocument is the did:medid document publishing holder key keyID.
func (s *Service) holderDocument(ctx context.Context, a Account, keyID string) (json.RawMessage, error) {
	vk, err := s.privateKey(ctx, a, keyID)
	if errors.Is(err, ErrNotFound) {
		return nil, fieldErr("key_id", "no holder key with this id in this wallet")
	}
	if err != nil {
		return nil, err
	}
	return ledgerDocument(vk)
}

// ledgerDocument is the DID document content: the holder key as #key-1,
// for authentication and assertions (as `medid did create` makes it).
func ledgerDocument(vk *keys.PrivateKey) (json.RawMessage, error) {
	vm := map[string]any{"id": "#key-1"}
	if vk.Algorithm() == keys.EdDSA {
		mk, err := vk.Multikey()
		if err != nil {
			return nil, err
		}
		vm["type"], vm["publicKeyMultibase"] = "Multikey", mk
	} else {
		j, err := vk.PublicJWKJSON()
		if err != nil {
			return nil, err
		}
		vm["type"], vm["publicKeyJwk"] = "JsonWebKey", json.RawMessage(j)
	}
	return json.Marshal(map[string]any{"verificationMethod": []any{vm},
		"authentication": []any{"#key-1"}, "assertionMethod": []any{"#key-1"}})
}

// LedgerDIDs lists the account's did:medid DIDs, oldest first.
func (s *Service) LedgerDIDs(ctx context.Context, a Account) ([]LedgerDID, error) {
	v, err := s.vault(a)
	if err != nil {
		return nil, err
	}
	out := []LedgerDID{}
	err = s.store.List(ctx, dataKey(a.ID, "did", ""), func(k string, raw []byte) error {
		var r didRecord
		if err := v.open(k, raw, &r); err != nil {
			return err
		}
		clear(r.UpdatePKCS8)
		clear(r.RecoverPKCS8)
		d := LedgerDID{DID: r.DID, KeyID: r.KeyID, State: "registered", CreatedAt: r.Created}
		if r.DID == "" {
			d.State = "pending"
		}
		out = append(out, d)
		return nil
	})
	sort.SliceStable(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, err
}

// RotateLedgerDID points the account's did:medid d at another holder key
// (keyID, or a fresh P-256 key when empty) and rotates its controller
// keys. Normally the current update key signs an update. With useRecovery —
// after a lost phone, from a restored backup, or when the update key may
// be in someone else's hands — the one-time recovery key takes the DID
// back instead, and new update and recovery keys are committed, so the
// old ones are useless from then on.
//
// The new controller keys are stored, sealed, before the operation is
// sent; the old record is removed once the registrar accepted it. A DID
// of another account is not found.
func (s *Service) RotateLedgerDID(ctx context.Context, a Account, d, keyID string, useRecovery bool) (*LedgerDID, error) {
	if s.opt.RegistrarURL == "" {
		return nil, errNoRegistrar
	}
	v, err := s.vault(a)
	if err != nil {
		return nil, err
	}
	var old didRecord
	var oldKey string
	err = s.store.List(ctx, dataKey(a.ID, "did", ""), func(k string, raw []byte) error {
		var r didRecord
		if err := v.open(k, raw, &r); err != nil {
			return err
		}
		if r.DID != "" && r.DID == d && oldKey == "" {
			old, oldKey = r, k
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if oldKey == "" {
		return nil, ErrNotFound
	}
	if keyID == "" {
		hk, err := s.CreateKey(ctx, a, "ES256")
		if err != nil {
			return nil, err
		}
		keyID = hk.ID
	}
	doc, err := s.holderDocument(ctx, a, keyID)
	if err != nil {
		return nil, err
	}
	upd, err := keys.ParsePKCS8(old.UpdatePKCS8)
	if err != nil {
		return nil, err
	}
	rec, err := keys.ParsePKCS8(old.RecoverPKCS8)
	if err != nil {
		return nil, err
	}
	next := didRecord{DID: d, KeyID: keyID, Created: old.Created}
	nextUpd, err := keys.Generate(keys.ES256)
	if err != nil {
		return nil, err
	}
	nextRec := rec
	if useRecovery {
		if nextRec, err = keys.Generate(keys.ES256); err != nil {
			return nil, err
		}
	}
	if next.UpdatePKCS8, err = keys.ExportPKCS8(nextUpd); err != nil {
		return nil, err
	}
	if next.RecoverPKCS8, err = keys.ExportPKCS8(nextRec); err != nil {
		return nil, err
	}
	next.UpdateAlg, next.RecoveryAlg = nextUpd.Algorithm(), nextRec.Algorithm()
	nk := dataKey(a.ID, "did", nextUpd.Thumbprint())
	sealed, err := v.seal(nk, next)
	if err != nil {
		return nil, err
	}
	if err := s.store.CompareAndSwap(ctx, nk, nil, sealed, 0); err != nil {
		return nil, err
	}
	cl := &registry.Client{BaseURL: s.opt.RegistrarURL, HTTP: s.http}
	rctx, cancel := context.WithTimeout(ctx, 3*s.opt.FetchTimeout)
	defer cancel()
	if useRecovery {
		_, err = cl.Recover(rctx, d, doc, rec, registry.ClientKeys{Update: nextUpd, Recovery: nextRec})
	} else {
		_, err = cl.Update(rctx, d, doc, upd, nextUpd)
	}
	if err != nil {
		_ = s.store.Delete(ctx, nk)
		return nil, registrarError("operation", err)
	}
	if err := s.store.Delete(ctx, oldKey); err != nil {
		return nil, err
	}
	return &LedgerDID{DID: d, KeyID: keyID, State: "registered", CreatedAt: next.Created}, nil
}
