package sdjwt

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"errors"
	"fmt"
	"strings"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/medid/medid/internal/keys"
)

// Header is the part of a JWS protected header that a verifier may use to
// find the signing key.
type Header struct {
	Alg string   // "ES256" or "EdDSA" by the time a caller sees it
	Typ string   // e.g. "dc+sd-jwt"
	Kid string   // key ID, if any
	X5C []string // certificate chain (base64 DER, RFC 7515 section 4.1.6), if any
}

// Media types of the JWTs this package makes.
const (
	TypVC = "dc+sd-jwt" // Issuer-signed JWT of an SD-JWT VC
	TypKB = "kb+jwt"    // Key Binding JWT (RFC 9901 section 4.3)
)

// jwsAlg maps an accepted algorithm name to jwx's; ok is false for every
// other name, including "none" and the HMAC family.
func jwsAlg(name string) (jwa.SignatureAlgorithm, bool) {
	switch keys.Algorithm(name) {
	case keys.ES256:
		return jwa.ES256(), true
	case keys.EdDSA:
		return jwa.EdDSA(), true
	}
	return jwa.SignatureAlgorithm{}, false
}

// keyFits reports whether pub is a key for the algorithm name.
func keyFits(name string, pub crypto.PublicKey) bool {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		return name == string(keys.ES256) && k != nil && k.Curve == elliptic.P256()
	case ed25519.PublicKey:
		return name == string(keys.EdDSA) && len(k) == ed25519.PublicKeySize
	}
	return false
}

// compactJWT is a compact JWS split and decoded but not yet verified.
type compactJWT struct {
	raw     string
	header  Header
	payload map[string]any
}

// parseCompact splits and decodes a compact JWS whose payload is a JSON
// object. It checks nothing cryptographic; the alg check is the caller's.
func parseCompact(s string) (*compactJWT, error) {
	h, rest, ok := strings.Cut(s, ".")
	if !ok {
		return nil, errors.New("not a compact JWS")
	}
	p, sig, ok := strings.Cut(rest, ".")
	if !ok || strings.Contains(sig, ".") || h == "" || p == "" {
		return nil, errors.New("not a compact JWS")
	}
	hb, err := segment(h)
	if err != nil {
		return nil, fmt.Errorf("JWS header: %v", err)
	}
	hm, err := decodeObject(hb)
	if err != nil {
		return nil, fmt.Errorf("JWS header: %v", err)
	}
	var hdr Header
	for name, v := range hm {
		switch name {
		case "alg", "typ", "kid":
			s, ok := v.(string)
			if !ok {
				return nil, fmt.Errorf("JWS header %q is not a string", name)
			}
			switch name {
			case "alg":
				hdr.Alg = s
			case "typ":
				hdr.Typ = s
			case "kid":
				hdr.Kid = s
			}
		case "x5c":
			arr, ok := v.([]any)
			if !ok {
				return nil, errors.New(`JWS header "x5c" is not an array`)
			}
			for _, c := range arr {
				cs, ok := c.(string)
				if !ok {
					return nil, errors.New(`JWS header "x5c" holds a non-string`)
				}
				hdr.X5C = append(hdr.X5C, cs)
			}
		case "crit", "b64":
			// RFC 7515 section 4.1.11: extensions we do not understand make
			// the JWS invalid; we understand none.
			return nil, fmt.Errorf("JWS header %q is not supported", name)
		}
	}
	if hdr.Alg == "" {
		return nil, errors.New(`JWS header has no "alg"`)
	}
	pb, err := segment(p)
	if err != nil {
		return nil, fmt.Errorf("JWS payload: %v", err)
	}
	pm, err := decodeObject(pb)
	if err != nil {
		return nil, fmt.Errorf("JWS payload: %v", err)
	}
	return &compactJWT{raw: s, header: hdr, payload: pm}, nil
}

// verify checks the signature with jwx under the header's algorithm, which
// must be accepted and fit pub.
func (c *compactJWT) verify(pub crypto.PublicKey) error {
	alg, ok := jwsAlg(c.header.Alg)
	if !ok {
		return fail(ErrAlgorithm, "alg %q", c.header.Alg)
	}
	if !keyFits(c.header.Alg, pub) {
		return fail(ErrAlgorithm, "a %T key cannot verify alg %s", pub, c.header.Alg)
	}
	if _, err := jws.Verify([]byte(c.raw), jws.WithKey(alg, pub), jws.WithCompact()); err != nil {
		return fail(ErrSignature, "%v", err)
	}
	return nil
}

// typMatches compares JWS typ values as RFC 7515 section 4.1.9 says:
// case-insensitively, with "application/" implied.
func typMatches(got, want string) bool {
	trim := func(s string) string {
		if len(s) > 12 && strings.EqualFold(s[:12], "application/") {
			return s[12:]
		}
		return s
	}
	return strings.EqualFold(trim(got), trim(want))
}

// sign signs payload as a compact JWS with k, setting typ and kid.
func sign(k *keys.PrivateKey, typ, kid string, payload []byte) (string, error) {
	if k == nil || k.Signer() == nil {
		return "", errors.New("sdjwt: no signing key")
	}
	alg, ok := jwsAlg(string(k.Algorithm()))
	if !ok {
		return "", fmt.Errorf("sdjwt: unsupported key algorithm %q", k.Algorithm())
	}
	h := jws.NewHeaders()
	if typ != "" {
		if err := h.Set(jws.TypeKey, typ); err != nil {
			return "", err
		}
	}
	if kid != "" {
		if err := h.Set(jws.KeyIDKey, kid); err != nil {
			return "", err
		}
	}
	out, err := jws.Sign(payload, jws.WithKey(alg, k.Signer(), jws.WithProtectedHeaders(h)))
	if err != nil {
		return "", fmt.Errorf("sdjwt: sign: %w", err)
	}
	return string(out), nil
}
