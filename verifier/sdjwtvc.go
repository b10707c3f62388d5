package verifier

import (
	"context"
	"crypto"
	"errors"
	"time"

	"github.com/medid/medid/credentials/sdjwt"
	"github.com/medid/medid/did"
)

// binding is what a presentation must be bound to.
type binding struct {
	nonce, audience string
}

// sdjwtEnvelope are the SD-JWT VC claims that describe the credential
// rather than its subject; they are not part of Verified.Claims.
var sdjwtEnvelope = []string{"iss", "iat", "nbf", "exp", "cnf", "vct", "vct#integrity", "status", "sub", "jti"}

// verifySDJWT verifies an SD-JWT VC. With kb set it must be presented with
// a Key Binding JWT for kb's nonce and audience.
func (v *Verifier) verifySDJWT(ctx context.Context, token string, kb *binding, cl *checklist) *Verified {
	opts := sdjwt.VerifyOptions{
		// iat, not verified yet, only picks the issuer's key as of
		// issuance; the signature is then checked with that key.
		IssuerKeyAt: func(ctx context.Context, iss string, iat time.Time, h sdjwt.Header) (crypto.PublicKey, error) {
			if iat.Unix() > maxNumericDate {
				iat = time.Time{}
			}
			return v.key(ctx, iss, h.Kid, did.AssertionMethod, iat.Truncate(time.Second))
		},
		ExpectedTyp: sdjwt.TypVC,
		Now:         v.opt.Now,
		Skew:        v.opt.Skew,
		KBMaxAge:    v.opt.PresentationMaxAge,
		MaxLength:   MaxTokenSize,
	}
	if kb != nil {
		opts.RequireKeyBinding, opts.Nonce, opts.Audience = true, kb.nonce, kb.audience
	}
	sv, err := sdjwt.Verify(ctx, token, opts)
	if err != nil {
		switch {
		case errors.Is(err, sdjwt.ErrKeyBinding):
			cl.pass(CheckSignature, "issuer signature and disclosures verified")
			cl.pass(CheckValidity, "within the validity period")
			cl.fail(CheckHolderBinding, err.Error())
		case errors.Is(err, sdjwt.ErrExpired) || errors.Is(err, sdjwt.ErrNotYetValid):
			cl.pass(CheckSignature, "issuer signature verified")
			cl.fail(CheckValidity, err.Error())
		default:
			cl.fail(CheckSignature, err.Error())
		}
		return nil
	}
	vc := &Verified{format: FormatSDJWTVC, keyBound: sv.KeyBound, holder: sv.Holder, disclosed: sv.Disclosed}
	vc.issuer, _ = sv.Claims["iss"].(string)
	vct, _ := sv.Claims["vct"].(string)
	vc.types = []string{vct}
	vc.subject, _ = sv.Claims["sub"].(string)
	vc.id, _ = sv.Claims["jti"].(string)
	vc.issuedAt, _ = numericDate(sv.Claims["iat"])
	vc.validFrom, _ = numericDate(sv.Claims["nbf"])
	vc.validUntil, _ = numericDate(sv.Claims["exp"])
	var refs []statusRef
	var refErr error
	if st, ok := sv.Claims["status"]; ok {
		refs, refErr = tokenStatusRef(st)
	}
	// sv.Claims is this call's own map.
	vc.claims = sv.Claims
	for _, k := range sdjwtEnvelope {
		delete(vc.claims, k)
	}
	cl.pass(CheckSignature, "issuer signature and disclosures verified")
	from := vc.validFrom
	if from.IsZero() {
		from = vc.issuedAt
	}
	cl.pass(CheckValidity, validityReason(from, vc.validUntil))
	if vct == "" {
		cl.fail(CheckSchema, "the credential has no vct")
		return vc
	}
	v.finish(ctx, vc, refs, refErr, true, cl)
	if kb != nil {
		cl.pass(CheckHolderBinding, "key-binding JWT signed with the credential's cnf key, for our nonce and audience, over the presented disclosures")
	} else {
		cl.na(CheckHolderBinding, "a credential on its own proves no holder binding")
	}
	return vc
}
