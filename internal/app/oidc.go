package app

import (
	"context"
	"errors"

	"github.com/medid/medid/internal/keys"
	"github.com/medid/medid/internal/kv"
	"github.com/medid/medid/verifier/audit"
	"github.com/medid/medid/verifier/oidc"
)

// Keys of the OpenID provider's own secrets: its ID token signing key (in
// the shared keystore) and the sealed pairwise-subject secret.
const (
	oidcSigningKeyID = "oidc/id-token-signer"
	oidcPairwiseKey  = "oidc/pairwise-secret"
)

// openOIDC builds the OpenID provider for wallet login over the OpenID4VP
// sessions. Its signing key and pairwise secret are made on first start
// and kept, so subjects stay stable across restarts and instances.
func (a *App) openOIDC(ctx context.Context, mk keys.MasterKey) error {
	k, err := a.Keys.Get(ctx, oidcSigningKeyID)
	if errors.Is(err, kv.ErrNotFound) {
		if k, err = keys.Generate(keys.ES256); err == nil {
			err = a.Keys.Put(ctx, oidcSigningKeyID, k)
		}
	}
	if err != nil {
		return err
	}
	sealer, err := keys.NewSealer(mk, "oidc provider")
	if err != nil {
		return err
	}
	secret, err := a.sealedSecret(ctx, sealer, oidcPairwiseKey)
	if err != nil {
		return err
	}
	a.OIDC, err = oidc.New(a.Store, sealer, oidc.Options{
		BaseURL: a.Config.BaseURL, SigningKey: k, KeyID: k.Thumbprint(), Keystore: a.Keys, PairwiseSecret: secret,
		Presentations: oidc.OpenID4VP{Sessions: a.Presentations}, Logger: a.Log,
		OnLogin: a.recordLogin,
	})
	return err
}

// recordLogin logs a sign-in that ended on the access log: kind login,
// Client the OpenID Connect client, the patient's DID, the granted scopes
// and the names of the released claims, and the outcome with its reason.
// The access log is opened after the provider, so it is looked up per
// call; a failure to log is reported in the server log, not to the
// browser.
func (a *App) recordLogin(ctx context.Context, ev oidc.LoginEvent) {
	if a.Audit == nil {
		return
	}
	e := audit.Entry{Kind: audit.KindLogin, Verifier: a.ServerDID, Client: ev.ClientID, PatientDID: ev.Patient,
		Scopes: ev.Scopes, ClaimNames: ev.ClaimNames, Outcome: audit.OutcomeVerified}
	if !ev.Verified {
		e.Outcome = audit.OutcomeFailed
		if ev.Reason != "" {
			e.Reasons = []string{ev.Reason}
		}
	}
	if _, err := a.Audit.Record(ctx, e); err != nil {
		a.Log.ErrorContext(ctx, "access log: could not record a login", "client_id", ev.ClientID, "err", err)
	}
}
