package app

import (
	"context"
	"errors"
	"net"
	"net/url"
	"strings"

	"github.com/medid/medid/credentials/health"
	"github.com/medid/medid/credentials/jsonld"
	"github.com/medid/medid/did"
	"github.com/medid/medid/internal/keys"
	"github.com/medid/medid/issuer"
	"github.com/medid/medid/verifier/audit"
	walletapi "github.com/medid/medid/wallet-api"
)

// consentConfig is the issuer configuration wallet consents are issued in.
const consentConfig = health.TypeHealthConsent + "_dc+sd-jwt"

// openWallet builds the patients' wallet API over this server's issuer
// (consents), access log and ledger (who looked, with proofs). Its
// outgoing client refuses private addresses (offer links come from
// patients); loopback is allowed only when this server itself is served on
// loopback, so that a local deployment can receive from its own issuer.
func (a *App) openWallet(mk keys.MasterKey, opts Options) error {
	sealer, err := keys.NewSealer(mk, "wallet/account-key")
	if err != nil {
		return err
	}
	loopback := false
	if u, err := url.Parse(a.Config.BaseURL); err == nil {
		h := u.Hostname()
		ip := net.ParseIP(h)
		loopback = h == "localhost" || (ip != nil && ip.IsLoopback())
	}
	a.Wallet, err = walletapi.New(a.Store, sealer, a.Resolver, nil, walletapi.Options{
		Logger: a.Log, Now: opts.Now, RegistrarURL: a.Config.BaseURL, AllowHTTPLoopback: loopback,
		// The health credentials' JSON-LD context, as this server serves
		// it, for ldp_vc credentials from its own issuer.
		JSONLDContexts: []jsonld.Context{jsonld.HealthContext(a.Config.BaseURL)},
		X509Roots:      opts.WalletX509Roots,
		ConsentOptions: walletapi.ConsentOptions{
			ConsentIssuer: consentIssuer{a}, ConsentRevoker: consentRevoker{a.Status},
			AccessLog: auditLog{a.Audit}, LedgerProofs: a.Ledger, LedgerKey: a.Ledger.VerifierKey(),
		},
	})
	return err
}

// consentIssuer offers a consent credential with the patient's chosen
// claims through this server's issuer; the wallet redeems the offer with
// the patient's holder key, so the credential is bound to it.
type consentIssuer struct{ a *App }

func (c consentIssuer) OfferConsent(ctx context.Context, claims map[string]any) (string, error) {
	o, err := c.a.Issuer.CreateOffer(ctx, issuer.OfferRequest{ConfigurationIDs: []string{consentConfig}, Claims: claims},
		c.a.Config.BaseURL+"/issuer/offers", validateClaims)
	var ce *issuer.ClaimsError
	if errors.As(err, &ce) {
		return "", &walletapi.FieldError{Field: strings.TrimPrefix(ce.Field, "claims."), Reason: ce.Reason}
	}
	if err != nil {
		return "", err
	}
	return o.OfferURI, nil
}

// consentRevoker revokes a consent credential found by its status entry
// among the issuer's records; only consent credentials can be revoked
// this way.
type consentRevoker struct{ st *issuer.Status }

func (r consentRevoker) Revoke(ctx context.Context, uri string, idx int) error {
	recs, err := r.st.Records(ctx, idx)
	if err != nil {
		return err
	}
	for _, rec := range recs {
		match := rec.StatusList == uri && rec.StatusIndex != nil && *rec.StatusIndex == idx
		for _, b := range rec.Bitstring {
			match = match || (b.List == uri && b.Index == idx && b.Purpose == "revocation")
		}
		if !match || !strings.HasPrefix(rec.Configuration, health.TypeHealthConsent+"_") {
			continue
		}
		if rec.Status == "revoked" {
			return nil
		}
		_, err := r.st.Change(ctx, rec.ID, "revoke")
		return err
	}
	return walletapi.ErrUnknownStatusEntry
}

// auditLog shows a patient's access log entries to the wallet, field for
// field (the wallet recomputes each commitment from them).
type auditLog struct{ svc *audit.Service }

func (l auditLog) PatientSalt(d did.DID) []byte { return l.svc.PatientSalt(d) }

func (l auditLog) ListForPatient(ctx context.Context, pseudonym string, f walletapi.AccessLogFilter) (walletapi.AccessLogPage, error) {
	p, err := l.svc.ListForPatient(ctx, pseudonym, audit.Filter{Limit: f.Limit, Cursor: f.Cursor})
	if err != nil {
		return walletapi.AccessLogPage{}, err
	}
	out := walletapi.AccessLogPage{NextCursor: p.NextCursor, Entries: make([]walletapi.AccessLogged, 0, len(p.Entries))}
	for _, g := range p.Entries {
		e := g.Entry
		out.Entries = append(out.Entries, walletapi.AccessLogged{ID: g.ID, Commitment: g.Commitment, LeafIndex: g.LeafIndex,
			OnLedger: g.OnLedger, Pending: g.Pending, Salt: g.Salt, Entry: walletapi.AccessEntry{Kind: string(e.Kind), Time: e.Time,
				Verifier: e.Verifier, Client: e.Client, Patient: e.Patient, CredentialTypes: e.CredentialTypes,
				ClaimNames: e.ClaimNames, Scopes: e.Scopes, Purpose: e.Purpose, Outcome: string(e.Outcome),
				Reasons: e.Reasons, Seq: e.Seq, Prev: e.Prev}})
	}
	return out, nil
}
