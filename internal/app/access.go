package app

import (
	"context"
	"crypto"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/medid/medid/internal/keys"
	"github.com/medid/medid/internal/kv"
	"github.com/medid/medid/verifier"
	"github.com/medid/medid/verifier/access"
	"github.com/medid/medid/verifier/audit"
	"github.com/medid/medid/verifier/openid4vp"
)

// auditSecretKey keeps the sealed secret behind patients' access-log
// pseudonyms; it must never change, or every patient's chain breaks.
const auditSecretKey = "verifier/audit-secret"

// openAccess builds the access log (commitments on this instance's ledger)
// and the consent access-decision service over the verification core and
// the OpenID4VP sessions.
func (a *App) openAccess(ctx context.Context, mk keys.MasterKey) error {
	sealer, err := keys.NewSealer(mk, "access log")
	if err != nil {
		return err
	}
	secret, err := a.sealedSecret(ctx, sealer, auditSecretKey)
	if err != nil {
		return err
	}
	a.journalSync = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "medid_audit_journal_sync_seconds", Help: "Access-log journal syncs, which every logged verification, login and access decision waits for.",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1},
	})
	opts := audit.Options{Secret: secret, Logger: a.Log,
		ObserveSync: func(d time.Duration) { a.journalSync.Observe(d.Seconds()) }}
	if a.Store == a.Local {
		// The embedded store has one writer, this process (bbolt locks
		// the file): entries wait for a journal sync rather than a
		// store commit. Instances sharing Redis write it directly.
		opts.Journal = filepath.Join(a.Config.DataDir, "audit-journal")
	}
	if a.Audit, err = audit.New(a.Store, a.Ledger, opts); err != nil {
		return err
	}
	a.Access, err = access.New(a.Store, a.Audit, access.Options{
		VerifierID:    a.ServerDID,
		Audience:      "decentralized_identifier:" + a.ServerDID,
		Sessions:      sessionResults{a.Presentations},
		Presentations: accessVerifier{a.Verifier},
		Holders:       access.DIDHolders{Resolver: a.Resolver},
		Logger:        a.Log,
	})
	return err
}

// accessVerifier adapts the verification core to the access service.
type accessVerifier struct{ v *verifier.Verifier }

func (p accessVerifier) VerifyPresentation(ctx context.Context, format string, raw json.RawMessage, nonce, audience string) ([]access.Presented, error) {
	vp, err := p.v.VerifyPresentation(ctx, format, raw, nonce, audience)
	var ve *verifier.VerificationError
	switch {
	case errors.As(err, &ve):
		return nil, &access.VerificationError{Checks: accessChecks(ve.Checks)}
	case errors.Is(err, verifier.ErrMalformed), errors.Is(err, verifier.ErrTooLarge), errors.Is(err, verifier.ErrUnsupported):
		return nil, fmt.Errorf("%w: %w", access.ErrMalformedPresentation, err)
	case err != nil:
		return nil, err
	}
	var out []access.Presented
	for _, c := range vp.Credentials() {
		out = append(out, access.Presented{Format: string(c.Format()), Types: c.Types(), Issuer: c.Issuer(),
			Claims: c.Claims(), Holder: vp.Holder(), HolderKey: vp.HolderKey(), Checks: accessChecks(vp.Checks())})
	}
	return out, nil
}

func accessChecks(cs []verifier.Check) []access.Check {
	out := make([]access.Check, 0, len(cs))
	for _, c := range cs {
		out = append(out, access.Check{Name: string(c.Name), Passed: c.OK, Skipped: c.Skipped, Detail: c.Reason})
	}
	return out
}

// sessionResults adapts the OpenID4VP sessions to the access service.
type sessionResults struct{ s *openid4vp.Service }

func (r sessionResults) Result(ctx context.Context, id string) (*access.SessionResult, error) {
	st, err := r.s.Status(ctx, id)
	if errors.Is(err, openid4vp.ErrSessionNotFound) {
		return nil, access.ErrSessionNotFound
	}
	if err != nil {
		return nil, err
	}
	out := &access.SessionResult{Status: st.Status}
	if st.Error != nil {
		for _, c := range st.Error.Checks {
			out.Checks = append(out.Checks, access.Check{Name: c.Name, Passed: c.Passed, Detail: c.Detail})
		}
	}
	for _, vps := range st.Credentials {
		for _, vp := range vps {
			p := access.Presented{Format: vp.Format, Issuer: vp.Issuer, Claims: vp.Claims}
			if vct, ok := vp.Claims["vct"].(string); ok {
				p.Types = []string{vct}
			}
			p.HolderKey = cnfKey(vp.Claims)
			for _, c := range vp.Checks {
				p.Checks = append(p.Checks, access.Check{Name: c.Name, Passed: c.Passed, Detail: c.Detail})
			}
			out.Credentials = append(out.Credentials, p)
		}
	}
	return out, nil
}

// cnfKey is the holder key the presentation adapter put in claims.
func cnfKey(claims map[string]any) crypto.PublicKey {
	cnf, _ := claims["cnf"].(map[string]any)
	if cnf == nil {
		return nil
	}
	raw, err := json.Marshal(cnf["jwk"])
	if err != nil {
		return nil
	}
	pub, _, err := keys.PublicKeyFromJWK(raw)
	if err != nil {
		return nil
	}
	return pub
}

// sealedSecret returns the 32-byte secret sealed under key, creating it
// once (the first writer wins when instances start together).
func (a *App) sealedSecret(ctx context.Context, sealer *keys.Sealer, key string) ([]byte, error) {
	ad := []byte(key)
	for range 2 {
		raw, err := a.Store.Get(ctx, key)
		if err == nil {
			return sealer.Open(raw, ad)
		}
		if !errors.Is(err, kv.ErrNotFound) {
			return nil, err
		}
		secret, err := randomBytes(32)
		if err != nil {
			return nil, err
		}
		sealed, err := sealer.Seal(secret, ad)
		if err != nil {
			return nil, err
		}
		if err = a.Store.CompareAndSwap(ctx, key, nil, sealed, 0); err == nil {
			return secret, nil
		}
		if !errors.Is(err, kv.ErrConflict) {
			return nil, err
		}
	}
	return nil, fmt.Errorf("%s: lost two races to create it", key)
}

func randomBytes(n int) ([]byte, error) {
	b := make([]byte, n)
	_, err := rand.Read(b)
	return b, err
}
