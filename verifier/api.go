package verifier

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// MaxPresentedCredentials bounds the credentials of one presentation.
const MaxPresentedCredentials = 16

// VerifyCredential verifies a credential on its own: raw is a VC-API
// verifiableCredential value, that is a JSON string holding a compact
// SD-JWT VC, jwt_vc_json or vc+jwt credential, an
// EnvelopedVerifiableCredential whose id is a data: URL
// (application/dc+sd-jwt, application/vc+jwt or application/jwt), or a
// credential with a Data Integrity proof. holder_binding is not applicable
// to a credential on its own; an SD-JWT VC with a Key Binding JWT is
// refused here (verify it as a presentation).
//
// It returns the verified credential, a *VerificationError listing the
// checks when one failed, or an input error wrapping ErrMalformed,
// ErrTooLarge or ErrUnsupported.
func (v *Verifier) VerifyCredential(ctx context.Context, raw json.RawMessage) (*Verified, error) {
	in, err := parseInput(raw, false)
	if err != nil {
		return nil, err
	}
	if in.doc != nil && v.opt.DataIntegrity == nil {
		return nil, fmt.Errorf("%w: Data Integrity proofs are not verified by this server (not configured)", ErrUnsupported)
	}
	cl := newChecklist("credential")
	var vc *Verified
	switch {
	case in.doc != nil:
		vc = v.verifyDICredential(ctx, in.doc, cl)
	case in.media == "dc+sd-jwt" || strings.Contains(in.compact, "~"):
		vc = v.verifySDJWT(ctx, in.compact, nil, cl)
	default:
		vc = v.verifyJWTVC(ctx, in.compact, cl)
		if vc != nil && in.media == "vc+jwt" && vc.format != FormatVCJWT {
			cl.fail(CheckSignature, "the envelope says application/vc+jwt but the token is not a vc+jwt")
		}
	}
	if vc != nil && !cl.has(CheckHolderBinding) {
		cl.na(CheckHolderBinding, "a credential on its own proves no holder binding")
	}
	if cl.failed || vc == nil {
		cl.skipRest(credentialChecks)
		return nil, &VerificationError{Checks: cl.checks}
	}
	vc.checks = cl.checks
	return vc, nil
}

// VerifyPresentation verifies a presentation bound to nonce and audience
// (both required). format is the OpenID4VP format identifier of the
// presentation, or "" to recognise it:
//
//   - "dc+sd-jwt": an SD-JWT VC with a Key Binding JWT whose nonce, aud
//     and sd_hash must match;
//   - "jwt_vc_json" (also "jwt_vp_json", "jwt_vp"): a JWT VP signed by
//     the holder's DID, with nonce and aud, holding jwt_vc_json or vc+jwt
//     credentials bound to the holder;
//   - "ldp_vc" (also "ldp_vp"): a Data Integrity presentation with
//     challenge and domain (needs Options.DataIntegrity).
//
// raw is the presentation as a JSON value: a string for the compact
// forms, an object for Data Integrity or an
// EnvelopedVerifiablePresentation (data: URL of application/dc+sd-jwt,
// application/vp+jwt or application/jwt).
func (v *Verifier) VerifyPresentation(ctx context.Context, format string, raw json.RawMessage, nonce, audience string) (*VerifiedPresentation, error) {
	if nonce == "" || audience == "" {
		return nil, fmt.Errorf("%w: a presentation is verified against a nonce (challenge) and an audience (domain)", ErrMalformed)
	}
	in, err := parseInput(raw, true)
	if err != nil {
		return nil, err
	}
	b := binding{nonce: nonce, audience: audience}
	kind := FormatJWTVCJSON
	switch {
	case in.doc != nil:
		kind = FormatLDPVC
	case in.media == "dc+sd-jwt" || strings.Contains(in.compact, "~"):
		kind = FormatSDJWTVC
	}
	f, known := presentationFormats[format]
	if format == "" {
		f = kind
	}
	switch {
	case !known:
		return nil, fmt.Errorf("%w: presentation format %.40q", ErrUnsupported, format)
	case f != kind:
		return nil, fmt.Errorf("%w: the presentation is not in format %s", ErrMalformed, format)
	}
	switch kind {
	case FormatLDPVC:
		return v.verifyDIPresentation(ctx, in.doc, b)
	case FormatJWTVCJSON:
		return v.verifyJWTVP(ctx, in.compact, b)
	}
	cl := newChecklist("presentation")
	vc := v.verifySDJWT(ctx, in.compact, &b, cl)
	if cl.failed || vc == nil {
		cl.skipRest(credentialChecks)
		return nil, &VerificationError{Checks: cl.checks}
	}
	vc.checks = cl.checks
	return &VerifiedPresentation{format: FormatSDJWTVC, holderKey: vc.holder, nonce: nonce, audience: audience,
		credentials: []*Verified{vc}, checks: cl.checks}, nil
}

// presentationFormats maps the format identifiers VerifyPresentation takes
// ("" recognises the format) to the kind of presentation they name.
var presentationFormats = map[string]Format{"": "", "dc+sd-jwt": FormatSDJWTVC, "jwt_vc_json": FormatJWTVCJSON, "jwt_vp_json": FormatJWTVCJSON,
	"jwt_vp": FormatJWTVCJSON, "ldp_vc": FormatLDPVC, "ldp_vp": FormatLDPVC}

// presented verifies the credentials of a presentation by holder (a DID)
// with key holderKey, each of which must be bound to the holder: its
// subject is the holder's DID or its cnf key is the holder's key. It
// appends the checks to vp.checks and the credentials to vp.credentials,
// and returns a *VerificationError when one failed.
func (v *Verifier) presented(ctx context.Context, creds any, holder string, holderKey crypto.PublicKey, vp *VerifiedPresentation) error {
	list, ok := creds.([]any)
	if !ok && creds != nil {
		list = []any{creds}
	}
	if len(list) > MaxPresentedCredentials {
		c := Check{Name: CheckSignature, Target: "presentation", Reason: fmt.Sprintf("more than %d credentials in one presentation", MaxPresentedCredentials)}
		return &VerificationError{Checks: append(vp.checks, c)}
	}
	thumb := "none"
	if holderKey != nil {
		thumb = thumbOf(holderKey)
	}
	failed := false
	for i, raw := range list {
		ccl := &checklist{target: fmt.Sprintf("verifiableCredential[%d]", i)}
		vc := v.embeddedCredential(ctx, raw, ccl)
		if vc != nil && !ccl.failed {
			if vc.subject == holder || vc.holder != nil && thumbOf(vc.holder) == thumb {
				ccl.pass(CheckHolderBinding, "the credential is bound to the presenter")
			} else {
				ccl.fail(CheckHolderBinding, "the credential is bound neither to the presenter's DID nor to its key")
			}
		}
		if ccl.failed || vc == nil {
			failed = true
			ccl.skipRest(credentialChecks)
		} else {
			vc.checks = ccl.checks
			vp.credentials = append(vp.credentials, vc)
		}
		vp.checks = append(vp.checks, ccl.checks...)
	}
	if failed {
		return &VerificationError{Checks: vp.checks}
	}
	return nil
}

// IsInputError reports whether err is about the input rather than a
// failed check.
func IsInputError(err error) bool {
	return errors.Is(err, ErrMalformed) || errors.Is(err, ErrTooLarge) || errors.Is(err, ErrUnsupported)
}
