package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/medid/medid/credentials/dataintegrity"
	"github.com/medid/medid/credentials/jsonld"
	"github.com/medid/medid/internal/httpx"
	"github.com/medid/medid/issuer"
	"github.com/medid/medid/verifier"
)

// openDataIntegrity builds the Data Integrity suite over the bundled
// contexts and the health context served at this server's base URL.
func (a *App) openDataIntegrity() error {
	l, err := jsonld.NewLoader(jsonld.HealthContext(a.Config.BaseURL))
	if err != nil {
		return err
	}
	a.diSuite = dataintegrity.New(l)
	return nil
}

// signDataIntegrity is the issuer's ldp_vc signer (VCAPI.SignDataIntegrity
// and the OpenID4VCI ldp_vc minter). A document our JSON-LD processing
// refuses (an unknown context or term) is the client's mistake: 422 naming
// what was refused.
func (a *App) signDataIntegrity(ctx context.Context, doc map[string]any, k issuer.IssuerKey, suite string) (map[string]any, error) {
	raw, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	created := time.Now().UTC().Truncate(time.Second)
	out, err := a.diSuite.Sign(ctx, raw, k.Key.Signer(), dataintegrity.Options{Cryptosuite: suite, VerificationMethod: k.KID, Created: created})
	if err != nil {
		var ut *jsonld.UnknownTermError
		var uc *jsonld.UnknownContextError
		var ii *jsonld.InvalidIRIError
		switch {
		case errors.As(err, &ut), errors.As(err, &uc), errors.As(err, &ii), errors.Is(err, jsonld.ErrInvalid), errors.Is(err, jsonld.ErrUnsupported):
			return nil, httpx.Unprocessable("invalid-json-ld", "credential", fmt.Sprintf("the credential cannot be signed as JSON-LD: %v", err))
		}
		return nil, err
	}
	var signed map[string]any
	if err := json.Unmarshal(out, &signed); err != nil {
		return nil, err
	}
	return signed, nil
}

// dataIntegrityVerifier adapts the suite to the verifier's hook; a wrong
// challenge or domain is a holder-binding failure.
func (a *App) dataIntegrityVerifier() verifier.DataIntegrityFunc {
	return func(ctx context.Context, doc []byte, resolve verifier.DataIntegrityKeyResolver, purpose, challenge, domain string, now time.Time) (*verifier.DataIntegrityProof, error) {
		v, err := a.diSuite.Verify(ctx, doc, dataintegrity.KeyResolver(resolve),
			dataintegrity.VerifyOptions{Purpose: purpose, Challenge: challenge, Domain: domain, Now: now})
		if errors.Is(err, dataintegrity.ErrChallenge) || errors.Is(err, dataintegrity.ErrDomain) {
			return nil, fmt.Errorf("%w: %w", verifier.ErrHolderBinding, err)
		}
		if err != nil {
			return nil, err
		}
		return &verifier.DataIntegrityProof{VerificationMethod: v.Proof.VerificationMethod, Cryptosuite: v.Proof.Cryptosuite, Created: v.Proof.Created}, nil
	}
}
