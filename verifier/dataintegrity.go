package verifier

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/medid/medid/credentials/jwtvc"
	"github.com/medid/medid/did"
)

// Data Integrity proof purposes.
const (
	PurposeAssertion      = "assertionMethod"
	PurposeAuthentication = "authentication"
)

// DataIntegrityKeyResolver returns the public key of a proof's
// verificationMethod (a DID URL) as of at; it refuses a method that is not
// the expected signer's or not authorised for the proof's purpose.
type DataIntegrityKeyResolver func(ctx context.Context, verificationMethod string, at time.Time) (crypto.PublicKey, error)

// DataIntegrityProof describes a Data Integrity proof that verified.
type DataIntegrityProof struct {
	// VerificationMethod is the DID URL of the key that made the proof.
	VerificationMethod string
	// Cryptosuite is e.g. "eddsa-rdfc-2022".
	Cryptosuite string
	// Created is the proof's created time, if any.
	Created time.Time
}

// DataIntegrityFunc verifies the Data Integrity proof of doc (a JSON
// credential or presentation with a proof member): the proof must have
// proofPurpose purpose, be made by a key that resolve returns, and, when
// challenge or domain are not empty, carry them. It returns an error when
// anything does not verify; an error about the challenge or domain should
// wrap ErrHolderBinding. The lead wires credentials/dataintegrity in here.
type DataIntegrityFunc func(ctx context.Context, doc []byte, resolve DataIntegrityKeyResolver, purpose, challenge, domain string, now time.Time) (*DataIntegrityProof, error)

// diResolver returns a resolver that accepts only verification methods of
// controller authorised for rel.
func (v *Verifier) diResolver(controller, rel string, fallback time.Time) DataIntegrityKeyResolver {
	return func(ctx context.Context, vm string, at time.Time) (crypto.PublicKey, error) {
		if !strings.HasPrefix(vm, controller+"#") {
			return nil, errors.New("the proof's verificationMethod is not a key of the expected signer")
		}
		if at.IsZero() {
			at = fallback
		}
		return v.key(ctx, controller, vm, rel, at)
	}
}

// w3cTime reads an optional RFC 3339 member.
func w3cTime(m map[string]any, name string) (time.Time, error) {
	x, ok := m[name]
	if !ok {
		return time.Time{}, nil
	}
	s, ok := x.(string)
	if !ok {
		return time.Time{}, fmt.Errorf("%s is not a string", name)
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s is not an RFC 3339 date-time", name)
	}
	return t.UTC(), nil
}

// verifyDICredential verifies a credential with a Data Integrity proof.
func (v *Verifier) verifyDICredential(ctx context.Context, doc []byte, cl *checklist) *Verified {
	if v.opt.DataIntegrity == nil {
		cl.fail(CheckSignature, ErrUnsupported.Error()+": Data Integrity proofs are not verified by this server (not configured)")
		return nil
	}
	var cred map[string]any
	if err := json.Unmarshal(doc, &cred); err != nil {
		cl.fail(CheckSignature, "malformed credential: not a JSON object")
		return nil
	}
	if _, ok := cred["proof"]; !ok {
		cl.fail(CheckSignature, "the credential has no proof")
		return nil
	}
	vc := &Verified{format: FormatLDPVC, issuer: jwtvc.IDOf(cred["issuer"])}
	var errs []error
	from, err := w3cTime(cred, "validFrom")
	errs = append(errs, err)
	until, err := w3cTime(cred, "validUntil")
	errs = append(errs, err)
	if from.IsZero() {
		from, err = w3cTime(cred, "issuanceDate")
		errs = append(errs, err)
	}
	if until.IsZero() {
		until, err = w3cTime(cred, "expirationDate")
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		cl.fail(CheckSignature, "malformed credential: "+err.Error())
		return nil
	}
	if _, err := did.Parse(vc.issuer); err != nil {
		cl.fail(CheckSignature, "the issuer is not a DID")
		return nil
	}
	vc.validFrom, vc.validUntil, vc.issuedAt = from, until, from
	proof, err := v.opt.DataIntegrity(ctx, doc, v.diResolver(vc.issuer, did.AssertionMethod, from), PurposeAssertion, "", "", v.now())
	if err != nil {
		cl.fail(CheckSignature, err.Error())
		return nil
	}
	if vc.issuedAt.IsZero() {
		vc.issuedAt = proof.Created
	}
	vc.id, _ = cred["id"].(string)
	cl.pass(CheckSignature, "Data Integrity proof ("+proof.Cryptosuite+") by the issuer's assertion key")
	now := v.now()
	switch {
	case !from.IsZero() && now.Add(v.opt.Skew).Before(from):
		cl.fail(CheckValidity, "not valid before "+fmtTime(from))
		return nil
	case !until.IsZero() && !now.Before(until.Add(v.opt.Skew)):
		cl.fail(CheckValidity, "expired at "+fmtTime(until))
		return nil
	}
	cl.pass(CheckValidity, validityReason(from, until))
	refs, refErr := w3cFields(vc, cred)
	v.finish(ctx, vc, refs, refErr, false, cl)
	return vc
}

// verifyDIPresentation verifies a presentation with a Data Integrity
// proof (purpose authentication, with our challenge and domain) and its
// credentials.
func (v *Verifier) verifyDIPresentation(ctx context.Context, doc []byte, b binding) (*VerifiedPresentation, error) {
	if v.opt.DataIntegrity == nil {
		return nil, fmt.Errorf("%w: Data Integrity proofs are not verified by this server (not configured)", ErrUnsupported)
	}
	cl := &checklist{target: "presentation"}
	fail := func(name CheckName, reason string) (*VerifiedPresentation, error) {
		cl.fail(name, reason)
		cl.skipRest([]CheckName{CheckSignature, CheckValidity, CheckHolderBinding})
		return nil, &VerificationError{Checks: cl.checks}
	}
	var pres map[string]any
	if err := json.Unmarshal(doc, &pres); err != nil {
		return fail(CheckSignature, "malformed presentation: not a JSON object")
	}
	if !hasType(pres["type"], "VerifiablePresentation") {
		return fail(CheckSignature, "type does not include VerifiablePresentation")
	}
	holder := jwtvc.IDOf(pres["holder"])
	if holder == "" {
		// The signer is the holder.
		p, _ := pres["proof"].(map[string]any)
		vm, _ := p["verificationMethod"].(string)
		holder, _, _ = strings.Cut(vm, "#")
	}
	if _, err := did.Parse(holder); err != nil {
		return fail(CheckSignature, "the presentation names no holder DID")
	}
	proof, err := v.opt.DataIntegrity(ctx, doc, v.diResolver(holder, did.Authentication, time.Time{}), PurposeAuthentication, b.nonce, b.audience, v.now())
	if errors.Is(err, ErrHolderBinding) {
		// The challenge and domain are compared before the signature,
		// which is then not checked: it is reported as not reached.
		return fail(CheckHolderBinding, err.Error())
	}
	if err != nil {
		return fail(CheckSignature, err.Error())
	}
	cl.pass(CheckSignature, "Data Integrity proof ("+proof.Cryptosuite+") by the holder's authentication key")
	cl.pass(CheckValidity, "no validity period")
	cl.pass(CheckHolderBinding, "proof bound to our challenge and domain")
	vp := &VerifiedPresentation{format: FormatLDPVC, holder: holder, nonce: b.nonce, audience: b.audience}
	vp.holderKey, _ = v.key(ctx, holder, proof.VerificationMethod, did.Authentication, time.Time{})
	vp.checks = cl.checks
	if err := v.presented(ctx, pres["verifiableCredential"], holder, vp.holderKey, vp); err != nil {
		return nil, err
	}
	return vp, nil
}
