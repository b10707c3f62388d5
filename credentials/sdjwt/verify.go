package sdjwt

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/subtle"
	"errors"
	"strings"
	"time"

	"github.com/medid/medid/internal/keys"
)

// Defaults for VerifyOptions.
const (
	DefaultSkew      = 60 * time.Second
	DefaultKBMaxAge  = 5 * time.Minute
	DefaultMaxLength = 64 << 10
)

// IssuerKeyFunc returns the public key (*ecdsa.PublicKey on P-256 or
// ed25519.PublicKey) that must have signed an Issuer-signed JWT, given its
// iss claim ("" if absent) and protected header. The claims are not verified
// yet when it is called: it must only use them to look the key up.
type IssuerKeyFunc func(ctx context.Context, iss string, h Header) (crypto.PublicKey, error)

// IssuerKeyAtFunc is an IssuerKeyFunc that is also given the Issuer-signed
// JWT's iat (zero if absent or not a NumericDate), not verified yet either:
// to pick the key that was the issuer's at issuance.
type IssuerKeyAtFunc func(ctx context.Context, iss string, iat time.Time, h Header) (crypto.PublicKey, error)

// VerifyOptions configure Verify.
type VerifyOptions struct {
	// IssuerKey resolves the issuer's key. It or IssuerKeyAt is required.
	IssuerKey IssuerKeyFunc
	// IssuerKeyAt, if set, resolves the issuer's key instead of IssuerKey.
	IssuerKeyAt IssuerKeyAtFunc
	// ExpectedTyp is the typ the Issuer-signed JWT must carry, e.g. TypVC,
	// compared as RFC 7515 section 4.1.9 says (case-insensitively, with an
	// optional "application/" prefix). Required.
	ExpectedTyp string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Skew is the tolerated clock difference for exp, nbf and iat; zero
	// means DefaultSkew.
	Skew time.Duration
	// RequireKeyBinding makes a presentation without a valid Key Binding JWT
	// fail. A Key Binding JWT that is present is always checked.
	RequireKeyBinding bool
	// Nonce and Audience are the values the Key Binding JWT must carry.
	// Both are required whenever a Key Binding JWT is required or present.
	Nonce, Audience string
	// KBMaxAge is how old the Key Binding JWT's iat may be; zero means
	// DefaultKBMaxAge.
	KBMaxAge time.Duration
	// MaxLength bounds the presentation in bytes; zero means
	// DefaultMaxLength.
	MaxLength int
}

// Verified is an SD-JWT presentation whose every check passed.
type Verified struct {
	// Header is the Issuer-signed JWT's protected header.
	Header Header
	// Claims are the processed claims: the always-visible ones and the
	// disclosed ones, without _sd, _sd_alg or undisclosed array elements.
	Claims map[string]any
	// Disclosed lists the claim paths that were disclosed, into Claims.
	Disclosed [][]any
	// Holder is the key in cnf.jwk, or nil if the credential has none (or
	// one that is neither an ES256 nor an EdDSA key).
	Holder crypto.PublicKey
	// KeyBound is true when a Key Binding JWT was checked: the presentation
	// was made by the holder of Holder's private key for Audience and Nonce.
	KeyBound bool
}

// Verify checks an SD-JWT presentation, <jwt>~<disclosure>~…~[<kb-jwt>],
// and returns what it discloses. In order, it checks the size limit, the
// structure, the Issuer-signed JWT's alg (ES256 or EdDSA), typ and signature
// (with the key from opts.IssuerKey), exp, nbf and iat, _sd_alg, every
// Disclosure (RFC 9901 section 7.1) and then the Key Binding JWT (section
// 7.3): required by opts or present, it must be signed by cnf.jwk with an
// accepted alg, have typ kb+jwt, a fresh iat, the expected aud and nonce,
// and an sd_hash over exactly the presented SD-JWT.
//
// Every error about the presentation wraps one of the package's sentinels;
// incomplete opts give a plain error.
func Verify(ctx context.Context, presentation string, opts VerifyOptions) (*Verified, error) {
	if (opts.IssuerKey == nil && opts.IssuerKeyAt == nil) || opts.ExpectedTyp == "" {
		return nil, errors.New("sdjwt: VerifyOptions needs IssuerKey (or IssuerKeyAt) and ExpectedTyp")
	}
	if opts.RequireKeyBinding && (opts.Nonce == "" || opts.Audience == "") {
		return nil, errors.New("sdjwt: RequireKeyBinding needs Nonce and Audience")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Skew <= 0 {
		opts.Skew = DefaultSkew
	}
	if opts.KBMaxAge <= 0 {
		opts.KBMaxAge = DefaultKBMaxAge
	}
	if opts.MaxLength <= 0 {
		opts.MaxLength = DefaultMaxLength
	}
	if len(presentation) > opts.MaxLength {
		return nil, fail(ErrTooLarge, "%d bytes, limit %d", len(presentation), opts.MaxLength)
	}
	last := strings.LastIndexByte(presentation, '~')
	if last < 0 {
		return nil, fail(ErrMalformed, `no "~": not an SD-JWT`)
	}
	sdjwt, kbJWT := presentation[:last+1], presentation[last+1:]
	parts := strings.Split(sdjwt[:last], "~")

	jwt, err := parseCompact(parts[0])
	if err != nil {
		return nil, fail(ErrMalformed, "issuer-signed JWT: %v", err)
	}
	if _, ok := jwsAlg(jwt.header.Alg); !ok {
		return nil, fail(ErrAlgorithm, "issuer-signed JWT alg %q (want ES256 or EdDSA)", jwt.header.Alg)
	}
	if !typMatches(jwt.header.Typ, opts.ExpectedTyp) {
		return nil, fail(ErrTyp, "issuer-signed JWT typ %q, want %q", jwt.header.Typ, opts.ExpectedTyp)
	}
	var iss string
	if v, ok := jwt.payload["iss"]; ok {
		if iss, ok = v.(string); !ok {
			return nil, fail(ErrMalformed, "iss is not a string")
		}
	}
	var pub crypto.PublicKey
	if opts.IssuerKeyAt != nil {
		iat, _ := numericDate(jwt.payload["iat"])
		pub, err = opts.IssuerKeyAt(ctx, iss, iat, jwt.header)
	} else {
		pub, err = opts.IssuerKey(ctx, iss, jwt.header)
	}
	if err != nil {
		return nil, failWrap(ErrSignature, err, "no key for issuer %q", iss)
	}
	if err := jwt.verify(pub); err != nil {
		return nil, err
	}

	now := opts.Now()
	if err := checkTimes(jwt.payload, now, opts.Skew); err != nil {
		return nil, err
	}
	if v, ok := jwt.payload[sdAlgClaim]; ok && v != SHA256 {
		return nil, fail(ErrAlgorithm, "_sd_alg %v (want %q)", v, SHA256)
	}

	set, err := decodeDisclosures(parts[1:])
	if err != nil {
		return nil, err
	}
	claims, placed, err := process(jwt.payload, set)
	if err != nil {
		return nil, err
	}
	v := &Verified{Header: jwt.header, Claims: claims, Disclosed: make([][]any, len(placed))}
	for i, pl := range placed {
		v.Disclosed[i] = pl.path
	}

	holder, holderErr := holderKey(jwt.payload)
	if holderErr == nil {
		v.Holder = holder
	}
	if kbJWT == "" {
		if opts.RequireKeyBinding {
			return nil, kbFail(nil, "the presentation has no Key Binding JWT")
		}
		return v, nil
	}
	if opts.Nonce == "" || opts.Audience == "" {
		return nil, kbFail(nil, "the presentation has a Key Binding JWT but VerifyOptions has no Nonce and Audience to check it against")
	}
	if holderErr != nil {
		return nil, kbFail(nil, "%v", holderErr)
	}
	if err := checkKeyBinding(kbJWT, sdjwt, holder, now, opts); err != nil {
		return nil, err
	}
	v.KeyBound = true
	return v, nil
}

// checkTimes checks exp, nbf and iat of the Issuer-signed JWT.
func checkTimes(payload map[string]any, now time.Time, skew time.Duration) error {
	if v, ok := payload["exp"]; ok {
		exp, err := numericDate(v)
		if err != nil {
			return fail(ErrMalformed, "exp: %v", err)
		}
		if !now.Before(exp.Add(skew)) {
			return fail(ErrExpired, "expired at %s", exp.Format(time.RFC3339))
		}
	}
	if v, ok := payload["nbf"]; ok {
		nbf, err := numericDate(v)
		if err != nil {
			return fail(ErrMalformed, "nbf: %v", err)
		}
		if now.Add(skew).Before(nbf) {
			return fail(ErrNotYetValid, "not valid before %s", nbf.Format(time.RFC3339))
		}
	}
	if v, ok := payload["iat"]; ok {
		iat, err := numericDate(v)
		if err != nil {
			return fail(ErrMalformed, "iat: %v", err)
		}
		if now.Add(skew).Before(iat) {
			return fail(ErrNotYetValid, "issued in the future, at %s", iat.Format(time.RFC3339))
		}
	}
	return nil
}

// holderKey returns the key in cnf.jwk.
func holderKey(payload map[string]any) (crypto.PublicKey, error) {
	cnf, ok := payload["cnf"]
	if !ok {
		return nil, errors.New("the credential has no cnf claim")
	}
	m, ok := cnf.(map[string]any)
	if !ok {
		return nil, errors.New("cnf is not an object")
	}
	j, ok := m["jwk"].(map[string]any)
	if !ok {
		return nil, errors.New("cnf has no jwk object")
	}
	if pub, ok := plainJWK(j); ok {
		return pub, nil
	}
	raw, err := marshal(j)
	if err != nil {
		return nil, err
	}
	pub, _, err := keys.PublicKeyFromJWK(raw)
	if err != nil {
		return nil, err
	}
	return pub, nil
}

// plainJWK reads the common form of a public JWK directly: only string
// members among kty, crv, x, y, alg, use and kid, of a P-256 or Ed25519 key
// that keys.PublicKeyFromJWK accepts. ok is false for anything else, which
// goes through keys.PublicKeyFromJWK for its checks and its error.
func plainJWK(j map[string]any) (pub crypto.PublicKey, ok bool) {
	var kty, crv, x, y, alg, use string
	var hasY bool
	for name, v := range j {
		s, isString := v.(string)
		if !isString || len(s) > 512 {
			return nil, false
		}
		switch name {
		case "kty":
			kty = s
		case "crv":
			crv = s
		case "x":
			x = s
		case "y":
			y, hasY = s, true
		case "alg":
			alg = s
		case "use":
			use = s
		case "kid":
		default:
			return nil, false
		}
	}
	if use != "" && use != "sig" {
		return nil, false
	}
	var buf [1 + 2*32]byte
	if b64.DecodedLen(len(x)) != 32 {
		return nil, false
	}
	if n, err := b64.Decode(buf[1:33], []byte(x)); err != nil || n != 32 {
		return nil, false
	}
	switch {
	case kty == "EC" && crv == "P-256" && (alg == "" || alg == string(keys.ES256)):
		if b64.DecodedLen(len(y)) != 32 {
			return nil, false
		}
		if n, err := b64.Decode(buf[33:], []byte(y)); err != nil || n != 32 {
			return nil, false
		}
		buf[0] = 4
		k, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), buf[:])
		if err != nil {
			return nil, false
		}
		return k, true
	case kty == "OKP" && crv == "Ed25519" && !hasY && (alg == "" || alg == string(keys.EdDSA)):
		return ed25519.PublicKey(bytes.Clone(buf[1:33])), true
	}
	return nil, false
}

// checkKeyBinding checks the Key Binding JWT kb of the presented sdjwt
// (which ends with "~").
func checkKeyBinding(kb, sdjwt string, holder crypto.PublicKey, now time.Time, opts VerifyOptions) error {
	jwt, err := parseCompact(kb)
	if err != nil {
		return kbFail(ErrMalformed, "%v", err)
	}
	if _, ok := jwsAlg(jwt.header.Alg); !ok {
		return kbFail(ErrAlgorithm, "alg %q (want ES256 or EdDSA)", jwt.header.Alg)
	}
	if !typMatches(jwt.header.Typ, TypKB) {
		return kbFail(ErrTyp, "typ %q, want %q", jwt.header.Typ, TypKB)
	}
	if err := jwt.verify(holder); err != nil {
		return asKB(err)
	}
	got, ok := jwt.payload["sd_hash"].(string)
	sum := sum256(sdjwt)
	var want [43]byte // base64url of 32 bytes
	b64.Encode(want[:], sum[:])
	if !ok || subtle.ConstantTimeCompare([]byte(got), want[:]) != 1 {
		return kbFail(nil, "sd_hash does not match the presented SD-JWT")
	}
	iatv, ok := jwt.payload["iat"]
	if !ok {
		return kbFail(ErrMalformed, "no iat")
	}
	iat, err := numericDate(iatv)
	if err != nil {
		return kbFail(ErrMalformed, "iat: %v", err)
	}
	if now.Add(opts.Skew).Before(iat) {
		return kbFail(ErrNotYetValid, "iat %s is in the future", iat.Format(time.RFC3339))
	}
	if iat.Add(opts.KBMaxAge + opts.Skew).Before(now) {
		return kbFail(ErrExpired, "iat %s is older than %s", iat.Format(time.RFC3339), opts.KBMaxAge)
	}
	opt := map[string]any{}
	for _, k := range []string{"exp", "nbf"} {
		if v, ok := jwt.payload[k]; ok {
			opt[k] = v
		}
	}
	if err := checkTimes(opt, now, opts.Skew); err != nil {
		return asKB(err)
	}
	if aud, ok := jwt.payload["aud"].(string); !ok || aud != opts.Audience {
		return kbFail(ErrAudience, "aud %v, want %q", jwt.payload["aud"], opts.Audience)
	}
	if nonce, ok := jwt.payload["nonce"].(string); !ok || nonce != opts.Nonce {
		return kbFail(ErrNonce, "the nonce is not the expected one")
	}
	return nil
}

// asKB turns an error from a check shared with the Issuer-signed JWT into
// one about the Key Binding JWT.
func asKB(err error) error {
	var ce *checkError
	if errors.As(err, &ce) && len(ce.errs) > 0 {
		return kbFail(ce.errs[0], "%s", strings.TrimPrefix(ce.msg, "sdjwt: "))
	}
	return kbFail(nil, "%v", err)
}
