package verifier

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/medid/medid/credentials/jwtvc"
	"github.com/medid/medid/did"
	"github.com/medid/medid/internal/keys"
)

// verifyJWTVC verifies a jwt_vc_json or vc+jwt credential.
func (v *Verifier) verifyJWTVC(ctx context.Context, token string, cl *checklist) *Verified {
	jv, err := jwtvc.Verify(ctx, token, jwtvc.VerifyOptions{
		Key: func(ctx context.Context, issuer, kid string, at time.Time) (crypto.PublicKey, error) {
			return v.key(ctx, issuer, kid, did.AssertionMethod, at)
		},
		Now:  v.opt.Now,
		Skew: v.opt.Skew,
	})
	if err != nil {
		if errors.Is(err, jwtvc.ErrExpired) || errors.Is(err, jwtvc.ErrNotYetValid) {
			cl.pass(CheckSignature, "issuer signature verified")
			cl.fail(CheckValidity, err.Error())
		} else {
			cl.fail(CheckSignature, err.Error())
		}
		return nil
	}
	cred := jv.Credential
	vc := &Verified{format: Format(jv.Format), issuer: jv.Issuer, validFrom: jv.ValidFrom, validUntil: jv.ValidUntil, issuedAt: jv.IssuedAt}
	if vc.issuedAt.IsZero() {
		vc.issuedAt = jv.ValidFrom
	}
	vc.id, _ = cred["id"].(string)
	cl.pass(CheckSignature, "issuer signature verified")
	if now := v.now(); !vc.issuedAt.IsZero() && now.Add(v.opt.Skew).Before(vc.issuedAt) {
		cl.fail(CheckValidity, "issued in the future, at "+fmtTime(vc.issuedAt))
		return nil
	}
	cl.pass(CheckValidity, validityReason(vc.validFrom, vc.validUntil))
	if len(jv.HolderJWK) > 0 {
		if pub, _, err := keys.PublicKeyFromJWK(jv.HolderJWK); err == nil {
			vc.holder = pub
		}
	}
	refs, refErr := w3cFields(vc, cred)
	if refErr == nil && jv.Format == jwtvc.VCJWT {
		if st, ok := cred["status"]; ok {
			var more []statusRef
			more, refErr = tokenStatusRef(st)
			refs = append(refs, more...)
		}
	}
	if !hasType(cred["type"], "VerifiableCredential") {
		cl.fail(CheckSchema, "the credential's type does not include VerifiableCredential")
		return vc
	}
	v.finish(ctx, vc, refs, refErr, false, cl)
	return vc
}

// w3cFields fills the types, subject and claims of a W3C credential and
// returns its status entries.
func w3cFields(vc *Verified, cred map[string]any) ([]statusRef, error) {
	for _, t := range typeStrings(cred["type"]) {
		if t != "VerifiableCredential" {
			vc.types = append(vc.types, t)
		}
	}
	subj := cred["credentialSubject"]
	if a, ok := subj.([]any); ok && len(a) == 1 {
		subj = a[0]
	}
	vc.claims = map[string]any{}
	if m, ok := subj.(map[string]any); ok {
		for k, c := range m {
			vc.claims[k] = c
		}
		vc.subject, _ = m["id"].(string)
		delete(vc.claims, "id")
	}
	if st, ok := cred["credentialStatus"]; ok {
		return credentialStatusRefs(st)
	}
	return nil, nil
}

// jwsHeader is the protected header of a JWT presentation.
type jwsHeader struct {
	Alg  string          `json:"alg"`
	Typ  string          `json:"typ"`
	Kid  string          `json:"kid"`
	Crit json.RawMessage `json:"crit"`
	B64  json.RawMessage `json:"b64"`
}

// vpClaims are the claims of a JWT presentation.
type vpClaims struct {
	Iss   *string         `json:"iss"`
	Aud   json.RawMessage `json:"aud"`
	Nonce *string         `json:"nonce"`
	Iat   json.Number     `json:"iat"`
	Nbf   json.Number     `json:"nbf"`
	Exp   json.Number     `json:"exp"`
	VP    map[string]any  `json:"vp"`
}

// acceptedAlg maps an allowlisted JWS alg to jwx's.
func acceptedAlg(name string) (jwa.SignatureAlgorithm, bool) {
	switch keys.Algorithm(name) {
	case keys.ES256:
		return jwa.ES256(), true
	case keys.EdDSA:
		return jwa.EdDSA(), true
	}
	return jwa.SignatureAlgorithm{}, false
}

// keyFits reports whether pub can verify alg.
func keyFits(alg string, pub crypto.PublicKey) bool {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		return alg == string(keys.ES256) && k.Curve == elliptic.P256()
	case ed25519.PublicKey:
		return alg == string(keys.EdDSA) && len(k) == ed25519.PublicKeySize
	}
	return false
}

// parseJWTVP decodes a compact JWT presentation without checking its
// signature: the header and the claims.
func parseJWTVP(token string) (*jwsHeader, *vpClaims, error) {
	if len(token) > MaxTokenSize {
		return nil, nil, fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, len(token), MaxTokenSize)
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, nil, errors.New("not a compact JWS")
	}
	hb, err := base64.RawURLEncoding.Strict().DecodeString(parts[0])
	if err != nil {
		return nil, nil, errors.New("the JWS header is not base64url")
	}
	var h jwsHeader
	if err := json.Unmarshal(hb, &h); err != nil {
		return nil, nil, errors.New("the JWS header is not a JSON object")
	}
	pb, err := base64.RawURLEncoding.Strict().DecodeString(parts[1])
	if err != nil {
		return nil, nil, errors.New("the JWS payload is not base64url")
	}
	dec := json.NewDecoder(bytes.NewReader(pb))
	dec.UseNumber()
	var c vpClaims
	if err := dec.Decode(&c); err != nil {
		return nil, nil, errors.New("the JWT claims are not a JSON object of the expected shape")
	}
	return &h, &c, nil
}

// typOK accepts the typ values of a JWT VP: JWT, vp+jwt or none, compared
// as RFC 7515 says.
func typOK(typ string) bool {
	t := strings.ToLower(strings.TrimPrefix(strings.ToLower(typ), "application/"))
	return t == "" || t == "jwt" || t == "vp+jwt"
}

// audienceOK reports whether an aud claim (a string or an array of
// strings) includes want.
func audienceOK(raw json.RawMessage, want string) bool {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s == want
	}
	var a []string
	return json.Unmarshal(raw, &a) == nil && slices.Contains(a, want)
}

// verifyJWTVP verifies a JWT presentation (OpenID4VP jwt_vc_json, W3C
// VC-JWT): its signature by the holder's DID key (authentication), iat
// freshness, nonce and aud, then every credential in vp.verifiableCredential
// and that each is bound to the holder.
func (v *Verifier) verifyJWTVP(ctx context.Context, token string, b binding) (*VerifiedPresentation, error) {
	cl := &checklist{target: "presentation"}
	vp := &VerifiedPresentation{format: FormatJWTVCJSON, nonce: b.nonce, audience: b.audience}
	h, c, err := parseJWTVP(token)
	if errors.Is(err, ErrTooLarge) {
		return nil, err
	}
	fail := func(name CheckName, reason string) (*VerifiedPresentation, error) {
		cl.fail(name, reason)
		cl.skipRest([]CheckName{CheckSignature, CheckValidity, CheckHolderBinding})
		return nil, &VerificationError{Checks: cl.checks}
	}
	if err != nil {
		return fail(CheckSignature, "malformed presentation: "+err.Error())
	}
	alg, ok := acceptedAlg(h.Alg)
	switch {
	case !ok:
		return fail(CheckSignature, fmt.Sprintf("alg %.20q is not accepted (ES256, EdDSA)", h.Alg))
	case !typOK(h.Typ):
		return fail(CheckSignature, fmt.Sprintf("typ %.40q is not a presentation's (JWT, vp+jwt)", h.Typ))
	case h.Crit != nil || h.B64 != nil:
		return fail(CheckSignature, "the JWS header parameters crit and b64 are not supported")
	case c.VP == nil:
		return fail(CheckSignature, "the JWT has no vp claim")
	}
	holder, _, _ := strings.Cut(h.Kid, "#")
	if holder == "" || !strings.Contains(h.Kid, "#") {
		return fail(CheckSignature, "the kid must be a DID URL of the holder's key")
	}
	if c.Iss != nil && *c.Iss != holder {
		return fail(CheckSignature, "iss is not the DID of the signing key")
	}
	if hv, ok := c.VP["holder"]; ok && jwtvc.IDOf(hv) != holder {
		return fail(CheckSignature, "vp.holder is not the DID of the signing key")
	}
	if !hasType(c.VP["type"], "VerifiablePresentation") {
		return fail(CheckSignature, "vp.type does not include VerifiablePresentation")
	}
	pub, err := v.key(ctx, holder, h.Kid, did.Authentication, time.Time{})
	if err != nil {
		return fail(CheckSignature, "holder key: "+err.Error())
	}
	if !keyFits(h.Alg, pub) {
		return fail(CheckSignature, fmt.Sprintf("the holder's key cannot verify alg %s", h.Alg))
	}
	if _, err := jws.Verify([]byte(token), jws.WithKey(alg, pub), jws.WithCompact()); err != nil {
		return fail(CheckSignature, "the presentation's signature does not verify")
	}
	cl.pass(CheckSignature, "signed by the holder's authentication key")
	vp.holder, vp.holderKey = holder, pub

	now := v.now()
	iat, ok := numericDate(c.Iat)
	switch {
	case !ok:
		return fail(CheckValidity, "the presentation has no valid iat")
	case now.Add(v.opt.Skew).Before(iat):
		return fail(CheckValidity, "the presentation was issued in the future")
	case iat.Add(v.opt.PresentationMaxAge + v.opt.Skew).Before(now):
		return fail(CheckValidity, "the presentation is older than "+v.opt.PresentationMaxAge.String())
	}
	if c.Exp != "" {
		exp, ok := numericDate(c.Exp)
		if !ok || !now.Before(exp.Add(v.opt.Skew)) {
			return fail(CheckValidity, "the presentation has expired")
		}
	}
	if c.Nbf != "" {
		nbf, ok := numericDate(c.Nbf)
		if !ok || now.Add(v.opt.Skew).Before(nbf) {
			return fail(CheckValidity, "the presentation is not yet valid")
		}
	}
	cl.pass(CheckValidity, "issued at "+fmtTime(iat))
	switch {
	case c.Nonce == nil || *c.Nonce != b.nonce:
		return fail(CheckHolderBinding, "the presentation's nonce is not the expected one")
	case c.Aud == nil || !audienceOK(c.Aud, b.audience):
		return fail(CheckHolderBinding, "the presentation's aud is not the expected audience")
	}
	cl.pass(CheckHolderBinding, "bound to our nonce and audience")

	vp.checks = cl.checks
	if err := v.presented(ctx, c.VP["verifiableCredential"], holder, pub, vp); err != nil {
		return nil, err
	}
	return vp, nil
}

func thumbOf(pub crypto.PublicKey) string {
	t, err := keys.ThumbprintOf(pub)
	if err != nil {
		return "-"
	}
	return t
}

// embeddedCredential verifies a credential inside a presentation: a
// compact JWT VC, an enveloped one, or (with Data Integrity) an object.
func (v *Verifier) embeddedCredential(ctx context.Context, raw any, cl *checklist) *Verified {
	b, err := json.Marshal(raw)
	if err != nil {
		cl.fail(CheckSignature, "malformed credential")
		return nil
	}
	in, err := parseInput(b, false)
	if err != nil {
		cl.fail(CheckSignature, err.Error())
		return nil
	}
	switch {
	case in.doc != nil:
		return v.verifyDICredential(ctx, in.doc, cl)
	case in.media == "dc+sd-jwt" || strings.Contains(in.compact, "~"):
		cl.fail(CheckSignature, "an SD-JWT VC is presented on its own, with a key-binding JWT, not inside a JWT presentation")
		return nil
	}
	return v.verifyJWTVC(ctx, in.compact, cl)
}
