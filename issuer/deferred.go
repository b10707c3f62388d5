package issuer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/medid/medid/internal/keys"
	"github.com/medid/medid/internal/kv"
)

// Deferred issuance (OpenID4VCI 1.0 §9). An offer created with
// "deferred": true answers the wallet's credential request with HTTP 202,
// a transaction_id and an interval: the request's configuration and proven
// holder keys are recorded, sealed with the offer's claims, until an admin
// approves the offer (ApproveOffer). The wallet then polls the deferred
// credential endpoint with the same access token, and gets the credentials
// exactly once; the transaction is taken atomically.
//
// The access token of a deferred request stays usable at the deferred
// credential and notification endpoints for Options.DeferredTTL, never
// longer at the credential endpoint.

const (
	approvalPrefix = "vci/deferred-offer/" // offer id → approval state (JSON)
	deferredPrefix = "vci/deferred/"       // sha256(transaction_id) → sealed deferredTx
)

// ErrDeferredOfferNotFound reports an offer that is unknown, was not
// created deferred, or whose deferred issuance has expired.
var ErrDeferredOfferNotFound = errors.New("issuer: no deferred offer with this id (unknown, not deferred, or expired)")

// approval is the stored state of a deferred offer. It holds no claims.
type approval struct {
	Approved bool      `json:"approved"`
	Expires  time.Time `json:"exp"`
}

// deferredTx is a recorded credential request waiting for approval.
type deferredTx struct {
	OfferID         string            `json:"offer"`
	ConfigurationID string            `json:"config"`
	TokenHash       string            `json:"at"`
	Claims          map[string]any    `json:"claims"`
	Holders         []json.RawMessage `json:"holders"` // public JWKs the wallet proved it holds
	Expires         time.Time         `json:"exp"`
}

// approvalTTL covers the longest a deferred offer can wait: redeemed at the
// end of its life, its token used at the end of its life, then the
// deferred period.
func (s *Service) approvalTTL() time.Duration {
	return s.opt.OfferTTL + s.opt.TokenTTL + s.opt.DeferredTTL
}

func (s *Service) createApproval(ctx context.Context, offerID string, now time.Time) error {
	b, err := json.Marshal(approval{Expires: now.Add(s.approvalTTL())})
	if err != nil {
		return err
	}
	return s.store.CompareAndSwap(ctx, approvalPrefix+offerID, nil, b, s.approvalTTL())
}

// getApproval returns the state of a deferred offer and its stored form,
// or ErrDeferredOfferNotFound.
func (s *Service) getApproval(ctx context.Context, offerID string) (*approval, []byte, error) {
	if offerID == "" || len(offerID) > 128 {
		return nil, nil, ErrDeferredOfferNotFound
	}
	raw, err := s.store.Get(ctx, approvalPrefix+offerID)
	if errors.Is(err, kv.ErrNotFound) {
		return nil, nil, ErrDeferredOfferNotFound
	}
	if err != nil {
		return nil, nil, err
	}
	var a approval
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, nil, fmt.Errorf("issuer: approval of offer: %w", err)
	}
	if !s.opt.Now().Before(a.Expires) {
		return nil, nil, ErrDeferredOfferNotFound
	}
	return &a, raw, nil
}

// approved reports whether a deferred offer has been approved; an expired
// or unknown one is not.
func (s *Service) approved(ctx context.Context, offerID string) (bool, error) {
	a, _, err := s.getApproval(ctx, offerID)
	if errors.Is(err, ErrDeferredOfferNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return a.Approved, nil
}

// ApproveOffer approves the deferred issuance of an offer (admin): its
// pending transactions, and any credential request still to come, are
// issued. Approving twice is not an error. It returns
// ErrDeferredOfferNotFound for an offer that is unknown, not deferred or
// expired.
func (s *Service) ApproveOffer(ctx context.Context, offerID string) error {
	for range 5 {
		a, raw, err := s.getApproval(ctx, offerID)
		if err != nil {
			return err
		}
		if a.Approved {
			return nil
		}
		a.Approved = true
		b, err := json.Marshal(a)
		if err != nil {
			return err
		}
		ttl := a.Expires.Sub(s.opt.Now())
		err = s.store.CompareAndSwap(ctx, approvalPrefix+offerID, raw, b, max(ttl, time.Second))
		if errors.Is(err, kv.ErrConflict) {
			continue
		}
		if err != nil {
			return err
		}
		s.opt.Logger.InfoContext(ctx, "deferred offer approved", "offer", offerID)
		return nil
	}
	return errors.New("issuer: approve offer: too much contention")
}

// deferIssuance records a verified credential request of a deferred offer
// and answers it with a new transaction_id.
func (s *Service) deferIssuance(ctx context.Context, a *Access, cfgID string, holders []holder) (*CredentialResponse, error) {
	now := s.opt.Now()
	until := now.Add(s.opt.DeferredTTL)
	if err := s.extendToken(ctx, a, until); err != nil {
		return nil, err
	}
	tx := deferredTx{OfferID: a.g.OfferID, ConfigurationID: cfgID, TokenHash: a.tokenHash, Claims: a.g.Claims, Expires: until}
	for _, h := range holders {
		tx.Holders = append(tx.Holders, h.JWK)
	}
	id := randomToken(32)
	if err := s.putSealed(ctx, deferredPrefix+hashKey(id), tx, s.opt.DeferredTTL); err != nil {
		return nil, err
	}
	s.opt.Logger.InfoContext(ctx, "credential issuance deferred", "configuration", cfgID, "offer", a.g.OfferID, "credentials", len(holders))
	return &CredentialResponse{TransactionID: id, Interval: s.interval()}, nil
}

func (s *Service) interval() int { return int(s.opt.DeferredInterval / time.Second) }

// extendToken keeps the access token usable at the deferred credential
// and notification endpoints until until (compare-and-swap on the grant).
func (s *Service) extendToken(ctx context.Context, a *Access, until time.Time) error {
	raw, g := a.raw, a.g
	for range 5 {
		if !g.DeferredUntil.Before(until) {
			return nil
		}
		g.DeferredUntil = until
		b, err := json.Marshal(g)
		if err != nil {
			return err
		}
		sealed, err := s.sealer.Seal(b, []byte(a.tokenKey))
		if err != nil {
			return err
		}
		err = s.store.CompareAndSwap(ctx, a.tokenKey, raw, sealed, max(until.Sub(s.opt.Now()), time.Second))
		if err == nil {
			a.raw, a.g = sealed, g
			return nil
		}
		if !errors.Is(err, kv.ErrConflict) {
			return err
		}
		// Another request of this token changed the grant: read it again.
		raw, err = s.store.Get(ctx, a.tokenKey)
		if errors.Is(err, kv.ErrNotFound) {
			return invalidToken("the access token is invalid or expired")
		}
		if err != nil {
			return err
		}
		g = grant{}
		if err := s.openInto(a.tokenKey, raw, &g); err != nil {
			return err
		}
	}
	return errors.New("issuer: extend access token: too much contention")
}

// DeferredCredential handles the deferred credential endpoint: with the
// access token that made the credential request, the wallet presents the
// transaction_id it got. Until the offer is approved the answer is the
// same transaction_id and an interval (HTTP 202; with
// Options.DeferredPendingError, the drafts' 400 issuance_pending); once it
// is, the credentials, exactly once. An unknown, expired, foreign or
// already redeemed transaction_id is invalid_transaction_id.
func (s *Service) DeferredCredential(ctx context.Context, a *Access, transactionID string) (*CredentialResponse, error) {
	if transactionID == "" {
		return nil, oauthErr(CodeInvalidCredentialRequest, http.StatusBadRequest, "transaction_id is required")
	}
	badTx := oauthErr(CodeInvalidTransactionID, http.StatusBadRequest, "the transaction_id is unknown, expired or already redeemed")
	key := deferredPrefix + hashKey(transactionID)
	var tx deferredTx
	if err := s.getSealed(ctx, key, &tx); err != nil {
		if errors.Is(err, kv.ErrNotFound) {
			return nil, badTx
		}
		return nil, err
	}
	if tx.TokenHash != a.tokenHash || !s.opt.Now().Before(tx.Expires) {
		return nil, badTx
	}
	ok, err := s.approved(ctx, tx.OfferID)
	if err != nil {
		return nil, err
	}
	if !ok {
		if s.opt.DeferredPendingError {
			return nil, &OAuthError{Code: CodeIssuancePending, Status: http.StatusBadRequest, Interval: s.interval(),
				Description: "the credential is not ready yet; ask again after interval seconds"}
		}
		return &CredentialResponse{TransactionID: transactionID, Interval: s.interval()}, nil
	}
	// Exactly once: of concurrent requests, one takes the transaction.
	if err := s.takeSealed(ctx, key, &tx); err != nil {
		if errors.Is(err, kv.ErrNotFound) {
			return nil, badTx
		}
		return nil, err
	}
	cfg, known := s.configs[tx.ConfigurationID]
	if !known {
		return nil, oauthErr(CodeCredentialRequestDenied, http.StatusBadRequest, "the credential configuration %q is no longer offered", tx.ConfigurationID)
	}
	holders := make([]holder, len(tx.Holders))
	for i, j := range tx.Holders {
		pub, _, err := keys.PublicKeyFromJWK(j)
		if err != nil {
			return nil, fmt.Errorf("issuer: deferred holder key: %w", err)
		}
		tp, err := keys.ThumbprintOf(pub)
		if err != nil {
			return nil, err
		}
		holders[i] = holder{Key: pub, JWK: j, Thumbprint: tp}
	}
	notifTTL := max(a.g.usableUntil().Sub(s.opt.Now()), time.Second)
	resp, err := s.mint(ctx, a.tokenHash, cfg, tx.Claims, holders, notifTTL)
	if err != nil {
		// Put the transaction back so that the wallet can ask again.
		if perr := s.putSealed(ctx, key, tx, max(tx.Expires.Sub(s.opt.Now()), time.Second)); perr != nil {
			s.opt.Logger.ErrorContext(ctx, "deferred transaction lost after a failed issuance", "offer", tx.OfferID, "error", perr)
		}
		return nil, err
	}
	return resp, nil
}
