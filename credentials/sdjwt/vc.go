package sdjwt

import (
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/medid/medid/internal/keys"
)

// vcReserved are the claims SD-JWT VC sets itself and that are never
// selectively disclosable (draft-ietf-oauth-sd-jwt-vc section 3.2.2.2, plus
// iat, which medid keeps visible too).
var vcReserved = []string{"iss", "iat", "nbf", "exp", "cnf", "vct", "vct#integrity", "status", sdAlgClaim}

// VCClaims is the content of an SD-JWT VC.
type VCClaims struct {
	// VCT is the credential type (vct). Required.
	VCT string
	// VCTIntegrity is the optional vct#integrity (a W3C SRI value).
	VCTIntegrity string
	// Issuer is iss. Required.
	Issuer string
	// IssuedAt is iat. Required.
	IssuedAt time.Time
	// NotBefore and Expires are nbf and exp; the zero time omits them.
	NotBefore, Expires time.Time
	// Holder is the Holder's public key (*ecdsa.PublicKey on P-256 or
	// ed25519.PublicKey), put in cnf.jwk for Key Binding. Nil omits cnf.
	Holder crypto.PublicKey
	// Status, if set, points at the credential's entry in a Token Status
	// List.
	Status *StatusListRef
	// Claims are the credential's other claims (sub, given_name, …). They
	// may not use the names above.
	Claims map[string]any
}

// StatusListRef is the status claim of a credential listed in a Token
// Status List: {"status": {"status_list": {"idx": Index, "uri": URI}}}.
type StatusListRef struct {
	Index int
	URI   string
}

// IssueVC issues an SD-JWT VC: it sets vct, iss, iat, nbf, exp, cnf and
// status, keeps them (and vct#integrity) always visible, applies policy to
// the other claims and signs with typ "dc+sd-jwt". A policy path into a
// reserved claim is an error, and so is an opts.Typ other than TypVC.
func IssueVC(vc VCClaims, policy Policy, opts IssueOptions) (*Issued, error) {
	if vc.VCT == "" || vc.Issuer == "" || vc.IssuedAt.IsZero() {
		return nil, errors.New("sdjwt: an SD-JWT VC needs VCT, Issuer and IssuedAt")
	}
	if opts.Typ != "" && opts.Typ != TypVC {
		return nil, fmt.Errorf("sdjwt: an SD-JWT VC has typ %q, not %q", TypVC, opts.Typ)
	}
	opts.Typ = TypVC
	claims := make(map[string]any, len(vc.Claims)+8)
	for k, v := range vc.Claims {
		if slices.Contains(vcReserved, k) {
			return nil, fmt.Errorf("sdjwt: claim %q is set by IssueVC, not by VCClaims.Claims", k)
		}
		claims[k] = v
	}
	claims["vct"] = vc.VCT
	if vc.VCTIntegrity != "" {
		claims["vct#integrity"] = vc.VCTIntegrity
	}
	claims["iss"] = vc.Issuer
	// Values in the generic form (see decodeJSON), so that Issue need not
	// convert them.
	claims["iat"] = numeric(vc.IssuedAt.Unix())
	if !vc.NotBefore.IsZero() {
		claims["nbf"] = numeric(vc.NotBefore.Unix())
	}
	if !vc.Expires.IsZero() {
		claims["exp"] = numeric(vc.Expires.Unix())
	}
	if vc.Holder != nil {
		j, err := keys.PublicJWKJSONOf(vc.Holder)
		if err != nil {
			return nil, fmt.Errorf("sdjwt: holder key: %w", err)
		}
		jwk, err := decodeTrusted(j)
		if err != nil {
			return nil, err
		}
		claims["cnf"] = map[string]any{"jwk": jwk}
	}
	if vc.Status != nil {
		if vc.Status.URI == "" || vc.Status.Index < 0 {
			return nil, errors.New("sdjwt: status needs a URI and a non-negative index")
		}
		claims["status"] = map[string]any{"status_list": map[string]any{"idx": numeric(int64(vc.Status.Index)), "uri": vc.Status.URI}}
	}
	for _, p := range policy.Paths {
		if len(p) > 0 {
			if k, ok := p[0].(string); ok && slices.Contains(vcReserved, k) {
				return nil, fmt.Errorf("sdjwt: claim %q of an SD-JWT VC cannot be selectively disclosable", k)
			}
		}
	}
	policy.AlwaysVisible = append(append([]string{}, policy.AlwaysVisible...), vcReserved...)
	return Issue(claims, policy, opts)
}

func numeric(n int64) json.Number { return json.Number(strconv.FormatInt(n, 10)) }
