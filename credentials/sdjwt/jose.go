package sdjwt

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"sync"

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
	hdr, ok := plainHeader(*hb)
	if !ok {
		hdr, err = decodeHeader(*hb)
	}
	putBuf(hb)
	if err != nil {
		return nil, err
	}
	pb, err := segment(p)
	if err != nil {
		return nil, fmt.Errorf("JWS payload: %v", err)
	}
	pm, err := decodeObject(*pb)
	putBuf(pb)
	if err != nil {
		return nil, fmt.Errorf("JWS payload: %v", err)
	}
	return &compactJWT{raw: s, header: hdr, payload: pm}, nil
}

// plainHeader reads the common form of a protected header directly: an
// object of alg, typ and kid only (alg required), each a string without
// escapes, control characters or invalid UTF-8, none repeated. ok is false
// for anything else, which decodeHeader then reads, for its checks and its
// error.
func plainHeader(hb []byte) (hdr Header, ok bool) {
	text := string(hb) // the values are slices of it
	i := skipSpace(text, 0)
	if i == len(text) || text[i] != '{' {
		return Header{}, false
	}
	var seen [3]bool
	for first := true; ; first = false {
		i = skipSpace(text, i+1)
		if first && i < len(text) && text[i] == '}' {
			break
		}
		name, j, ok := plainString(text, i)
		if !ok {
			return Header{}, false
		}
		if j = skipSpace(text, j); j == len(text) || text[j] != ':' {
			return Header{}, false
		}
		value, j, ok := plainString(text, skipSpace(text, j+1))
		if !ok {
			return Header{}, false
		}
		var n int
		switch name {
		case "alg":
			n, hdr.Alg = 0, value
		case "typ":
			n, hdr.Typ = 1, value
		case "kid":
			n, hdr.Kid = 2, value
		default:
			return Header{}, false
		}
		if seen[n] {
			return Header{}, false
		}
		seen[n] = true
		if i = skipSpace(text, j); i == len(text) {
			return Header{}, false
		}
		if text[i] == '}' {
			break
		}
		if text[i] != ',' {
			return Header{}, false
		}
	}
	if skipSpace(text, i+1) != len(text) || hdr.Alg == "" {
		return Header{}, false
	}
	return hdr, true
}

// decodeHeader reads a protected header of any form.
func decodeHeader(hb []byte) (Header, error) {
	hm, err := decodeObject(hb)
	if err != nil {
		return Header{}, fmt.Errorf("JWS header: %v", err)
	}
	var hdr Header
	for name, v := range hm {
		switch name {
		case "alg", "typ", "kid":
			s, ok := v.(string)
			if !ok {
				return Header{}, fmt.Errorf("JWS header %q is not a string", name)
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
				return Header{}, errors.New(`JWS header "x5c" is not an array`)
			}
			for _, c := range arr {
				cs, ok := c.(string)
				if !ok {
					return Header{}, errors.New(`JWS header "x5c" holds a non-string`)
				}
				hdr.X5C = append(hdr.X5C, cs)
			}
		case "crit", "b64":
			// RFC 7515 section 4.1.11: extensions we do not understand make
			// the JWS invalid; we understand none.
			return Header{}, fmt.Errorf("JWS header %q is not supported", name)
		}
	}
	if hdr.Alg == "" {
		return Header{}, errors.New(`JWS header has no "alg"`)
	}
	return hdr, nil
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
	var sigBuf [64]byte
	sig := sigBuf[:]
	if enc := c.raw[i+1:]; b64.DecodedLen(len(enc)) > len(sigBuf) {
		sig = make([]byte, b64.DecodedLen(len(enc)))
	}
	n, err := b64.Decode(sig, []byte(c.raw[i+1:]))
	if err != nil {
		return fail(ErrSignature, "the signature is not base64url")
	}
	sig = sig[:n]
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		// RFC 7518 section 3.4: R and S as 32-byte big-endian integers.
		if len(sig) != 64 {
			return fail(ErrSignature, "an ES256 signature has 64 bytes, not %d", len(sig))
		}
		h := sum256(input)
		var der [72]byte
		if !ecdsa.VerifyASN1(k, h[:], asn1Signature(der[:0], sig)) {
			return fail(ErrSignature, "the signature does not verify")
		}
	case ed25519.PublicKey:
		buf := getBuf(input)
		ok := ed25519.Verify(k, *buf, sig)
		putBuf(buf)
		if !ok {
			return fail(ErrSignature, "the signature does not verify")
		}
	default:
		return fail(ErrAlgorithm, "a %T key cannot verify alg %s", pub, c.header.Alg)
	}
	return nil
}

// bufs holds buffers for bytes that are only needed for a moment: those of
// a string to hash (a presentation of a few kilobytes would otherwise be
// copied to the heap), or a decoded segment that is then parsed.
var bufs = sync.Pool{New: func() any { return new([]byte) }}

// segment base64url-decodes one part of a compact JWS into a pooled
// buffer; give it back with putBuf once nothing refers to its bytes.
func segment(s string) (*[]byte, error) {
	b := bufs.Get().(*[]byte)
	n := b64.DecodedLen(len(s))
	if cap(*b) < n {
		*b = make([]byte, n)
	}
	m, err := b64.Decode((*b)[:n], []byte(s))
	if err != nil {
		putBuf(b)
		return nil, err
	}
	*b = (*b)[:m]
	return b, nil
}

// getBuf returns a pooled buffer holding s; give it back with putBuf.
func getBuf(s string) *[]byte {
	b := bufs.Get().(*[]byte)
	*b = append((*b)[:0], s...)
	return b
}

func putBuf(b *[]byte) {
	if cap(*b) <= DefaultMaxLength {
		bufs.Put(b)
	}
}

// sum256 is sha256.Sum256 of s.
func sum256(s string) [sha256.Size]byte {
	if len(s) <= 32 { // converted on the stack
		return sha256.Sum256([]byte(s))
	}
	b := getBuf(s)
	sum := sha256.Sum256(*b)
	putBuf(b)
	return sum
}

// asn1Signature appends the ASN.1 form ECDSA-Sig-Value (RFC 3279 section
// 2.2.3) of the 64-byte JWS form of an ES256 signature (R and S) to buf,
// as crypto/ecdsa.Verify would build it. A zero R or S gives nil, which
// never verifies.
func asn1Signature(buf, sig []byte) []byte {
	r, s := bytes.TrimLeft(sig[:32], "\x00"), bytes.TrimLeft(sig[32:], "\x00")
	if len(r) == 0 || len(s) == 0 {
		return nil
	}
	size := func(b []byte) int { return len(b) + int(b[0]>>7) } // a zero byte before a set high bit
	buf = append(buf, 0x30, byte(4+size(r)+size(s)))
	for _, b := range [][]byte{r, s} {
		buf = append(buf, 0x02, byte(size(b)))
		if b[0]&0x80 != 0 {
			buf = append(buf, 0)
		}
		buf = append(buf, b...)
	}
	return buf
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
		if sig, err = keys.RawP256Signature(der); err != nil {
			return "", fmt.Errorf("sdjwt: sign: %w", err)
		}
	default:
		if sig, err = k.Signer().Sign(rand.Reader, input, crypto.Hash(0)); err != nil {
			return "", fmt.Errorf("sdjwt: sign: %w", err)
		}
	}
	out := append(input, '.')
	out = b64.AppendEncode(out, sig)
	return string(out), nil
}
