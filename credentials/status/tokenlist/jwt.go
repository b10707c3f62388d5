package tokenlist

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
	"io"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/medid/medid/internal/keys"
)

// TokenType is the JWT "typ" of a Status List Token.
const TokenType = "statuslist+jwt"

// MediaType is the content type under which a Status List Token is served.
const MediaType = "application/statuslist+jwt"

// MaxTokenSize bounds the compact JWT that VerifyJWT accepts.
const MaxTokenSize = 4 << 20

// MaxEntries bounds the statuses of a list inside a token that VerifyJWT
// accepts: 16 MiB uncompressed at 8 bits per status.
const MaxEntries = 1 << 24

// Leeway is the clock skew VerifyJWT tolerates on exp, nbf and iat.
const Leeway = time.Minute

// ErrInvalidToken is wrapped by every error of VerifyJWT that is about the
// token itself (not about resolving its key).
var ErrInvalidToken = errors.New("tokenlist: invalid status list token")

// ErrExpired is wrapped, together with ErrInvalidToken, when the token's
// exp has passed: the caller should fetch a fresh one.
var ErrExpired = errors.New("tokenlist: status list token expired")

// Reference is the "status_list" member of the "status" claim of a
// Referenced Token: where to find its status.
type Reference struct {
	Idx int    `json:"idx"`
	URI string `json:"uri"`
}

// StatusClaim is the "status" claim of a Referenced Token that uses a
// Token Status List: {"status_list": {"idx": …, "uri": …}}.
type StatusClaim struct {
	StatusList Reference `json:"status_list"`
}

// wireList is "status_list" in a Status List Token.
type wireList struct {
	Bits int    `json:"bits"`
	Lst  string `json:"lst"`
}

// signedClaims is the claims set SignJWT writes.
type signedClaims struct {
	Sub        string   `json:"sub"`
	Iat        int64    `json:"iat"`
	Exp        int64    `json:"exp,omitempty"`
	TTL        int64    `json:"ttl,omitempty"`
	StatusList wireList `json:"status_list"`
}

func jwaOf(a keys.Algorithm) (jwa.SignatureAlgorithm, error) {
	switch a {
	case keys.ES256:
		return jwa.ES256(), nil
	case keys.EdDSA:
		return jwa.EdDSA(), nil
	}
	return jwa.SignatureAlgorithm{}, fmt.Errorf("tokenlist: algorithm %q is not allowed (ES256, EdDSA)", string(a))
}

// SignJWT returns a compact Status List Token for l served at uri (its
// "sub"), issued at iat. exp (zero for none) is when the token stops being
// valid; ttl (zero for none, otherwise at least a second, counted in whole
// seconds) is how long a relying party may cache it. The header carries
// typ statuslist+jwt, the key's algorithm and kid when it is not empty.
func SignJWT(l *List, uri string, iat, exp time.Time, ttl time.Duration, key *keys.PrivateKey, kid string) (string, error) {
	if l == nil || l.bits == 0 {
		return "", errors.New("tokenlist: sign: no list")
	}
	if u, err := url.Parse(uri); err != nil || !u.IsAbs() {
		return "", fmt.Errorf("tokenlist: sign: uri %q is not an absolute URI", uri)
	}
	if iat.IsZero() {
		return "", errors.New("tokenlist: sign: iat is required")
	}
	if !exp.IsZero() && !exp.After(iat) {
		return "", errors.New("tokenlist: sign: exp must be after iat")
	}
	if ttl < 0 || ttl > 0 && ttl < time.Second {
		return "", fmt.Errorf("tokenlist: sign: ttl %v must be zero or at least one second", ttl)
	}
	if key == nil || key.Signer() == nil {
		return "", errors.New("tokenlist: sign: no key")
	}
	alg, err := jwaOf(key.Algorithm())
	if err != nil {
		return "", err
	}
	lst, err := l.Encode()
	if err != nil {
		return "", err
	}
	c := signedClaims{Sub: uri, Iat: iat.Unix(), TTL: int64(ttl / time.Second), StatusList: wireList{Bits: l.bits, Lst: lst}}
	if !exp.IsZero() {
		c.Exp = exp.Unix()
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("tokenlist: sign: %w", err)
	}
	h := jws.NewHeaders()
	if err := h.Set(jws.TypeKey, TokenType); err != nil {
		return "", fmt.Errorf("tokenlist: sign: %w", err)
	}
	if kid != "" {
		if err := h.Set(jws.KeyIDKey, kid); err != nil {
			return "", fmt.Errorf("tokenlist: sign: %w", err)
		}
	}
	out, err := jws.Sign(payload, jws.WithKey(alg, key.Signer(), jws.WithProtectedHeaders(h)))
	if err != nil {
		return "", fmt.Errorf("tokenlist: sign: %w", err)
	}
	return string(out), nil
}

// KeyFunc returns the public key (ed25519.PublicKey for EdDSA,
// *ecdsa.PublicKey on P-256 for ES256) that the issuer of a Status List
// Token signs with, given the token's allowlisted alg and its kid (which
// may be empty). It is the caller's trust decision.
type KeyFunc func(ctx context.Context, alg keys.Algorithm, kid string) (crypto.PublicKey, error)

// Verified is a Status List Token whose signature, type and claims
// VerifyJWT checked.
type Verified struct {
	List      *List
	URI       string         // "sub": the URI the token was fetched from
	Issuer    string         // "iss", if present
	IssuedAt  time.Time      // "iat"
	ExpiresAt time.Time      // "exp"; zero if absent
	TTL       time.Duration  // "ttl"; zero if absent
	Algorithm keys.Algorithm // the header's "alg"
	KeyID     string         // the header's "kid"; may be empty
}

// verifiedClaims is the claims set VerifyJWT reads. Numbers are raw so
// that strings are not accepted where numbers are required.
type verifiedClaims struct {
	Iss        *string         `json:"iss"`
	Sub        *string         `json:"sub"`
	Iat        json.RawMessage `json:"iat"`
	Exp        json.RawMessage `json:"exp"`
	Nbf        json.RawMessage `json:"nbf"`
	TTL        json.RawMessage `json:"ttl"`
	StatusList *struct {
		Bits *int    `json:"bits"`
		Lst  *string `json:"lst"`
	} `json:"status_list"`
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidToken}, args...)...)
}

// VerifyJWT verifies a compact Status List Token fetched from expectedURI
// and returns its list. It checks, in order: the size, the header (typ
// statuslist+jwt, alg ES256 or EdDSA, no crit or b64), the signature with
// the key keyFunc returns, then the claims: sub equal to expectedURI
// (simple string comparison), iat present and not in the future, exp
// (ErrExpired) and nbf if present, ttl positive if present, and the
// status_list, decoded with at most MaxEntries statuses. Every failure about
// the token wraps ErrInvalidToken; errors of keyFunc are returned wrapped
// as they are.
func VerifyJWT(ctx context.Context, token, expectedURI string, keyFunc KeyFunc, now time.Time) (*Verified, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if expectedURI == "" || keyFunc == nil {
		return nil, errors.New("tokenlist: verify: expectedURI and keyFunc are required")
	}
	if len(token) > MaxTokenSize {
		return nil, invalid("token exceeds %d bytes", MaxTokenSize)
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, invalid("not a compact JWS")
	}
	hdrJSON, err := base64.RawURLEncoding.Strict().DecodeString(parts[0])
	if err != nil {
		return nil, invalid("header is not base64url")
	}
	var hdr struct {
		Alg  string          `json:"alg"`
		Typ  string          `json:"typ"`
		Kid  *string         `json:"kid"`
		Crit json.RawMessage `json:"crit"`
		B64  json.RawMessage `json:"b64"`
	}
	if err := strictUnmarshal(hdrJSON, &hdr); err != nil {
		return nil, invalid("header: %v", err)
	}
	if hdr.Crit != nil || hdr.B64 != nil {
		return nil, invalid("header parameters crit and b64 are not supported")
	}
	if !typeMatches(hdr.Typ) {
		return nil, invalid("typ must be %q", TokenType)
	}
	alg := keys.Algorithm(hdr.Alg)
	ja, err := jwaOf(alg)
	if err != nil {
		return nil, invalid("alg %q is not allowed (ES256, EdDSA)", hdr.Alg)
	}
	var kid string
	if hdr.Kid != nil {
		kid = *hdr.Kid
	}
	pub, err := keyFunc(ctx, alg, kid)
	if err != nil {
		return nil, fmt.Errorf("tokenlist: verify: resolve key (alg %s, kid %q): %w", alg, kid, err)
	}
	if !keyMatches(alg, pub) {
		return nil, invalid("alg %s does not match the key for kid %q", alg, kid)
	}
	if _, err := jws.Verify([]byte(token), jws.WithKey(ja, pub)); err != nil {
		return nil, invalid("signature does not verify")
	}
	// The signature covers the encoded segments; decode the payload
	// strictly ourselves.
	payload, err := base64.RawURLEncoding.Strict().DecodeString(parts[1])
	if err != nil {
		return nil, invalid("payload is not base64url")
	}
	var c verifiedClaims
	if err := strictUnmarshal(payload, &c); err != nil {
		return nil, invalid("claims: %v", err)
	}
	v := &Verified{Algorithm: alg, KeyID: kid}
	if c.Sub == nil || *c.Sub == "" {
		return nil, invalid("sub is required")
	}
	if *c.Sub != expectedURI {
		return nil, invalid("sub %q is not the URI the token was fetched from (%q)", *c.Sub, expectedURI)
	}
	v.URI = *c.Sub
	if c.Iss != nil {
		v.Issuer = *c.Iss
	}
	if c.Iat == nil {
		return nil, invalid("iat is required")
	}
	if v.IssuedAt, err = numericDate(c.Iat); err != nil {
		return nil, invalid("iat: %v", err)
	}
	if v.IssuedAt.After(now.Add(Leeway)) {
		return nil, invalid("iat is in the future")
	}
	if c.Exp != nil {
		if v.ExpiresAt, err = numericDate(c.Exp); err != nil {
			return nil, invalid("exp: %v", err)
		}
		if !now.Before(v.ExpiresAt.Add(Leeway)) {
			return nil, fmt.Errorf("%w: %w at %s", ErrInvalidToken, ErrExpired, v.ExpiresAt.UTC().Format(time.RFC3339))
		}
	}
	if c.Nbf != nil {
		nbf, err := numericDate(c.Nbf)
		if err != nil {
			return nil, invalid("nbf: %v", err)
		}
		if nbf.After(now.Add(Leeway)) {
			return nil, invalid("not valid before %s", nbf.UTC().Format(time.RFC3339))
		}
	}
	if c.TTL != nil {
		if v.TTL, err = positiveSeconds(c.TTL); err != nil {
			return nil, invalid("ttl: %v", err)
		}
	}
	if c.StatusList == nil || c.StatusList.Bits == nil || c.StatusList.Lst == nil {
		return nil, invalid("status_list with bits and lst is required")
	}
	if v.List, err = Decode(*c.StatusList.Bits, *c.StatusList.Lst, MaxEntries); err != nil {
		return nil, invalid("status_list: %v", err)
	}
	return v, nil
}

// typeMatches compares typ as RFC 7515 suggests: case-insensitively, with
// an optional "application/" prefix.
func typeMatches(typ string) bool {
	t := strings.ToLower(typ)
	return t == TokenType || t == "application/"+TokenType
}

func keyMatches(alg keys.Algorithm, pub crypto.PublicKey) bool {
	switch k := pub.(type) {
	case ed25519.PublicKey:
		return alg == keys.EdDSA && len(k) == ed25519.PublicKeySize
	case *ecdsa.PublicKey:
		return alg == keys.ES256 && k != nil && k.Curve == elliptic.P256()
	}
	return false
}

// strictUnmarshal decodes one JSON object into v, refusing trailing data.
func strictUnmarshal(data []byte, v any) error {
	if len(bytes.TrimSpace(data)) == 0 || bytes.TrimSpace(data)[0] != '{' {
		return errors.New("not a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}

// maxNumericDate is 9999-12-31T23:59:59Z.
const maxNumericDate = 253402300799

// numericDate parses a JSON number of seconds since the epoch.
func numericDate(raw json.RawMessage) (time.Time, error) {
	f, err := jsonNumber(raw)
	if err != nil {
		return time.Time{}, err
	}
	if f < 0 || f > maxNumericDate {
		return time.Time{}, fmt.Errorf("%v is not a date", f)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), nil
}

// maxTTL keeps a ttl in seconds representable as a time.Duration.
const maxTTL = 100 * 365 * 24 * time.Hour

func positiveSeconds(raw json.RawMessage) (time.Duration, error) {
	f, err := jsonNumber(raw)
	if err != nil {
		return 0, err
	}
	if !(f > 0) || f > maxTTL.Seconds() {
		return 0, fmt.Errorf("%v is not a positive number of seconds", f)
	}
	return time.Duration(f * float64(time.Second)), nil
}

// jsonNumber parses raw, which must be a JSON number (not a string).
func jsonNumber(raw json.RawMessage) (float64, error) {
	s := string(bytes.TrimSpace(raw))
	if s == "" || !(s[0] == '-' || s[0] >= '0' && s[0] <= '9') {
		return 0, errors.New("not a number")
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, errors.New("not a finite number")
	}
	return f, nil
}
