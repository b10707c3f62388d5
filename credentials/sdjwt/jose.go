package sdjwt

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"strings"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"

	"github.com/lestrrat-go/jwx/v3/jwa"

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

// verify checks the signature under the header's algorithm, which must be
// accepted and fit pub. It verifies the compact form it already split
// (RFC 7515 section 5.2) with crypto/ecdsa or crypto/ed25519 directly:
// going through jws.Verify parsed every JWS a second time, which cost as
// much as a signature check.
func (c *compactJWT) verify(pub crypto.PublicKey) error {
	if _, ok := jwsAlg(c.header.Alg); !ok {
		return fail(ErrAlgorithm, "alg %q", c.header.Alg)
	}
	if !keyFits(c.header.Alg, pub) {
		return fail(ErrAlgorithm, "a %T key cannot verify alg %s", pub, c.header.Alg)
	}
	i := strings.LastIndexByte(c.raw, '.')
	if i < 0 {
		return fail(ErrSignature, "not a compact JWS")
	}
	input := c.raw[:i]
	sig, err := base64.RawURLEncoding.Strict().DecodeString(c.raw[i+1:])
	if err != nil {
		return fail(ErrSignature, "the signature is not base64url")
	}
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		// RFC 7518 section 3.4: R and S as 32-byte big-endian integers.
		if len(sig) != 64 {
			return fail(ErrSignature, "an ES256 signature has 64 bytes, not %d", len(sig))
		}
		h := sha256.Sum256([]byte(input))
		if !ecdsa.Verify(k, h[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
			return fail(ErrSignature, "the signature does not verify")
		}
	case ed25519.PublicKey:
		if !ed25519.Verify(k, []byte(input), sig) {
			return fail(ErrSignature, "the signature does not verify")
		}
	default:
		return fail(ErrAlgorithm, "a %T key cannot verify alg %s", pub, c.header.Alg)
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
	alg := string(k.Algorithm())
	if _, ok := jwsAlg(alg); !ok {
		return "", fmt.Errorf("sdjwt: unsupported key algorithm %q", k.Algorithm())
	}
	// The compact serialization (RFC 7515 section 7.1) built directly: the
	// protected header holds alg, typ and kid only.
	hdr := map[string]any{"alg": alg}
	if typ != "" {
		hdr["typ"] = typ
	}
	if kid != "" {
		hdr["kid"] = kid
	}
	hb, err := marshal(hdr)
	if err != nil {
		return "", err
	}
	input := make([]byte, 0, b64.EncodedLen(len(hb))+1+b64.EncodedLen(len(payload))+90)
	input = b64.AppendEncode(input, hb)
	input = append(input, '.')
	input = b64.AppendEncode(input, payload)
	var sig []byte
	switch k.Algorithm() {
	case keys.ES256:
		h := sha256.Sum256(input)
		der, err := k.Signer().Sign(rand.Reader, h[:], crypto.SHA256)
		if err != nil {
			return "", fmt.Errorf("sdjwt: sign: %w", err)
		}
		// RFC 7518 section 3.4: R and S, 32 bytes each, not ASN.1.
		var r, s cryptobyte.String
		in := cryptobyte.String(der)
		var seq cryptobyte.String
		if !in.ReadASN1(&seq, asn1.SEQUENCE) || !in.Empty() || !readInt(&seq, &r) || !readInt(&seq, &s) || !seq.Empty() {
			return "", errors.New("sdjwt: sign: malformed ECDSA signature")
		}
		sig = make([]byte, 64)
		copy(sig[32-len(r):32], r)
		copy(sig[64-len(s):], s)
	default:
		if sig, err = k.Signer().Sign(rand.Reader, input, crypto.Hash(0)); err != nil {
			return "", fmt.Errorf("sdjwt: sign: %w", err)
		}
	}
	out := append(input, '.')
	out = b64.AppendEncode(out, sig)
	return string(out), nil
}

// readInt reads one ASN.1 INTEGER of an ECDSA signature as its big-endian
// magnitude without leading zeros (at most 32 bytes for P-256).
func readInt(s *cryptobyte.String, out *cryptobyte.String) bool {
	var v cryptobyte.String
	if !s.ReadASN1(&v, asn1.INTEGER) || len(v) == 0 || v[0]&0x80 != 0 {
		return false
	}
	for len(v) > 1 && v[0] == 0 {
		v = v[1:]
	}
	if len(v) > 32 {
		return false
	}
	*out = v
	return true
}
