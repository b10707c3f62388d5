// Package jwtvc issues and verifies JWT-secured verifiable credentials in
// the two formats wallets use: jwt_vc_json (VC Data Model 1.1 in a "vc"
// claim, as OpenID4VCI defines it) and VC Data Model 2.0 secured with
// VC-JOSE-COSE (typ "vc+jwt", the payload is the credential itself).
//
// Verify is the only way to read a credential: it returns a Verified value
// after checking the algorithm (ES256 or EdDSA only), the type, the
// signature with the issuer's key as of issuance, and the validity period.
package jwtvc

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/medid/medid/internal/keys"
)

// Format names a JWT credential format.
type Format string

// The two formats.
const (
	// JWTVCJSON is OpenID4VCI's jwt_vc_json: VCDM 1.1 in a vc claim.
	JWTVCJSON Format = "jwt_vc_json"
	// VCJWT is VCDM 2.0 secured with VC-JOSE-COSE (media type vc+jwt).
	VCJWT Format = "vc+jwt"
)

// Errors a verifier reports by name.
var (
	ErrMalformed   = errors.New("jwtvc: malformed credential")
	ErrAlgorithm   = errors.New("jwtvc: algorithm not allowed")
	ErrTyp         = errors.New("jwtvc: wrong typ")
	ErrSignature   = errors.New("jwtvc: signature does not verify")
	ErrExpired     = errors.New("jwtvc: credential expired")
	ErrNotYetValid = errors.New("jwtvc: credential not yet valid")
	ErrIssuer      = errors.New("jwtvc: issuer mismatch")
	ErrTooLarge    = errors.New("jwtvc: credential too large")
)

// MaxSize bounds a credential a verifier will parse.
const MaxSize = 64 << 10

// IssueOptions are the issuer's inputs common to both formats.
type IssueOptions struct {
	Issuer string // the issuer DID
	KID    string // DID URL of the signing verification method
	Key    *keys.PrivateKey
	// IssuedAt, and the validity period (zero = open).
	IssuedAt, ValidFrom, ValidUntil time.Time
	// ID is the credential id (jti), e.g. urn:uuid:….
	ID string
	// HolderJWK binds the credential to a holder key (cnf.jwk).
	HolderJWK json.RawMessage
}

func (o *IssueOptions) check() error {
	switch {
	case o.Key == nil:
		return errors.New("jwtvc: no signing key")
	case o.Issuer == "" || o.KID == "":
		return errors.New("jwtvc: issuer and kid are required")
	case !strings.HasPrefix(o.KID, o.Issuer+"#"):
		return errors.New("jwtvc: kid must be a verification method of the issuer")
	}
	return nil
}

// IssueJWTVCJSON secures a VCDM 1.1 credential (without proof) as
// jwt_vc_json: iss, sub, jti, nbf, iat, exp and the vc claim.
func IssueJWTVCJSON(vc map[string]any, o IssueOptions) (string, error) {
	if err := o.check(); err != nil {
		return "", err
	}
	v := clone(vc)
	v["issuer"] = o.Issuer
	if !o.ValidFrom.IsZero() {
		v["issuanceDate"] = o.ValidFrom.UTC().Format(time.RFC3339)
	}
	if !o.ValidUntil.IsZero() {
		v["expirationDate"] = o.ValidUntil.UTC().Format(time.RFC3339)
	}
	if o.ID != "" {
		v["id"] = o.ID
	}
	claims := map[string]any{"iss": o.Issuer, "iat": o.IssuedAt.Unix(), "vc": v}
	if cs, ok := v["credentialSubject"].(map[string]any); ok {
		if id, ok := cs["id"].(string); ok {
			claims["sub"] = id
		}
	}
	if o.ID != "" {
		claims["jti"] = o.ID
	}
	if !o.ValidFrom.IsZero() {
		claims["nbf"] = o.ValidFrom.Unix()
	}
	if !o.ValidUntil.IsZero() {
		claims["exp"] = o.ValidUntil.Unix()
	}
	if o.HolderJWK != nil {
		claims["cnf"] = map[string]any{"jwk": o.HolderJWK}
	}
	return encodeAndSign(claims, "JWT", "", &o)
}

// IssueVCJWT secures a VCDM 2.0 credential as vc+jwt (VC-JOSE-COSE): the
// JWS payload is the credential itself.
func IssueVCJWT(vc map[string]any, o IssueOptions) (string, error) {
	if err := o.check(); err != nil {
		return "", err
	}
	v := clone(vc)
	v["issuer"] = o.Issuer
	if o.ID != "" {
		v["id"] = o.ID
	}
	if !o.ValidFrom.IsZero() {
		v["validFrom"] = o.ValidFrom.UTC().Format(time.RFC3339)
	}
	if !o.ValidUntil.IsZero() {
		v["validUntil"] = o.ValidUntil.UTC().Format(time.RFC3339)
	}
	v["iat"] = o.IssuedAt.Unix()
	if o.HolderJWK != nil {
		v["cnf"] = map[string]any{"jwk": o.HolderJWK}
	}
	return encodeAndSign(v, "vc+jwt", "vc", &o)
}

// mediaType is a JOSE typ as the media type it names (RFC 7515 §4.1.9:
// "application/" is implied when there is no '/'; media types compare
// case-insensitively).
func mediaType(typ string) string {
	t := strings.ToLower(typ)
	if t != "" && !strings.Contains(t, "/") {
		t = "application/" + t
	}
	return t
}

func clone(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// KeyResolver returns the public key of verification method kid of issuer
// as of time at (issuance), refusing keys the issuer had not authorised for
// assertions then.
type KeyResolver func(ctx context.Context, issuer, kid string, at time.Time) (crypto.PublicKey, error)

// VerifyOptions configures Verify.
type VerifyOptions struct {
	Key  KeyResolver
	Now  func() time.Time
	Skew time.Duration // default 60 s
}

// Verified is a credential whose signature and validity were checked.
type Verified struct {
	Format     Format
	Issuer     string
	KID        string
	Credential map[string]any // the VC (for jwt_vc_json, the vc claim)
	IssuedAt   time.Time
	ValidFrom  time.Time
	ValidUntil time.Time
	// HolderJWK is cnf.jwk when the credential is key-bound.
	HolderJWK json.RawMessage
}

// Verify checks a jwt_vc_json or vc+jwt credential.
func Verify(ctx context.Context, token string, opts VerifyOptions) (*Verified, error) {
	if len(token) > MaxSize {
		return nil, ErrTooLarge
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Skew == 0 {
		opts.Skew = 60 * time.Second
	}
	msg, err := jws.Parse([]byte(token), jws.WithCompact())
	if err != nil || len(msg.Signatures()) != 1 {
		return nil, fmt.Errorf("%w: not a compact JWS", ErrMalformed)
	}
	hdr := msg.Signatures()[0].ProtectedHeaders()
	a, _ := hdr.Algorithm()
	var ja jwa.SignatureAlgorithm
	switch a.String() {
	case "ES256":
		ja = jwa.ES256()
	case "EdDSA":
		ja = jwa.EdDSA()
	default:
		return nil, fmt.Errorf("%w: %q", ErrAlgorithm, a.String())
	}
	typ, _ := hdr.Type()
	kid, _ := hdr.KeyID()
	var claims map[string]any
	if err := json.Unmarshal(msg.Payload(), &claims); err != nil {
		return nil, fmt.Errorf("%w: payload is not a JSON object", ErrMalformed)
	}
	v := &Verified{KID: kid}
	switch mediaType(typ) {
	case "application/vc+jwt":
		v.Format = VCJWT
		v.Credential = claims
		v.Issuer = IDOf(claims["issuer"])
		v.ValidFrom, err = rfc3339(claims, "validFrom")
		if err == nil {
			v.ValidUntil, err = rfc3339(claims, "validUntil")
		}
		v.IssuedAt = numeric(claims["iat"])
	case "application/jwt", "":
		vc, ok := claims["vc"].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%w: jwt_vc_json needs a vc claim", ErrMalformed)
		}
		v.Format = JWTVCJSON
		v.Credential = vc
		v.Issuer, _ = claims["iss"].(string)
		if vi := IDOf(vc["issuer"]); vi != "" && vi != v.Issuer {
			return nil, fmt.Errorf("%w: iss %q but vc.issuer %q", ErrIssuer, v.Issuer, vi)
		}
		v.ValidFrom, v.ValidUntil, v.IssuedAt = numeric(claims["nbf"]), numeric(claims["exp"]), numeric(claims["iat"])
	default:
		return nil, fmt.Errorf("%w: %q (want vc+jwt or JWT)", ErrTyp, typ)
	}
	if err != nil {
		return nil, err
	}
	if v.Issuer == "" || kid == "" || !strings.HasPrefix(kid, v.Issuer+"#") {
		return nil, fmt.Errorf("%w: kid %q is not a verification method of issuer %q", ErrIssuer, kid, v.Issuer)
	}
	at := v.IssuedAt
	if at.IsZero() {
		at = v.ValidFrom
	}
	if at.IsZero() {
		at = opts.Now()
	}
	pub, err := opts.Key(ctx, v.Issuer, kid, at)
	if err != nil {
		return nil, fmt.Errorf("%w: issuer key: %v", ErrSignature, err)
	}
	if _, err := jws.Verify([]byte(token), jws.WithKey(ja, pub)); err != nil {
		return nil, ErrSignature
	}
	now := opts.Now()
	if !v.ValidUntil.IsZero() && now.After(v.ValidUntil.Add(opts.Skew)) {
		return nil, ErrExpired
	}
	if !v.ValidFrom.IsZero() && now.Add(opts.Skew).Before(v.ValidFrom) {
		return nil, ErrNotYetValid
	}
	if cnf, ok := claims["cnf"].(map[string]any); ok {
		if j, ok := cnf["jwk"]; ok {
			v.HolderJWK, _ = json.Marshal(j)
		}
	}
	return v, nil
}

// IDOf returns a W3C credential or presentation member that is a DID or
// URL given either as a string or as an object's id (issuer, holder):
// "" when it is neither.
func IDOf(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case map[string]any:
		s, _ := x["id"].(string)
		return s
	}
	return ""
}

func rfc3339(m map[string]any, k string) (time.Time, error) {
	s, ok := m[k].(string)
	if !ok {
		if _, present := m[k]; present {
			return time.Time{}, fmt.Errorf("%w: %s must be an RFC 3339 string", ErrMalformed, k)
		}
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: %s: %v", ErrMalformed, k, err)
	}
	return t, nil
}

func numeric(v any) time.Time {
	f, ok := v.(float64)
	if !ok {
		return time.Time{}
	}
	return time.Unix(int64(f), 0)
}
