package keys

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// maxJWKSize bounds the input of PublicKeyFromJWK; a public EC or OKP JWK
// with every registered member is far smaller.
const maxJWKSize = 8 << 10

const coordLen = 32 // bytes of an Ed25519 key and of a P-256 coordinate

var b64 = base64.RawURLEncoding.Strict()

// PublicJWKJSONOf returns pub, an ed25519.PublicKey or an *ecdsa.PublicKey
// on P-256, as the canonical JWK of RFC 7638: the required members only,
// in lexicographic order, without whitespace. For EC that is crv, kty, x
// and y; for OKP crv, kty and x.
func PublicJWKJSONOf(pub crypto.PublicKey) ([]byte, error) {
	switch k := pub.(type) {
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("keys: Ed25519 public key of %d bytes", len(k))
		}
		return fmt.Appendf(nil, `{"crv":"Ed25519","kty":"OKP","x":%q}`, b64.EncodeToString(k)), nil
	case *ecdsa.PublicKey:
		if k == nil || k.Curve != elliptic.P256() {
			return nil, errors.New("keys: unsupported ECDSA public key: only P-256 is accepted")
		}
		u, err := k.Bytes()
		if err != nil || len(u) != 1+2*coordLen {
			return nil, errors.New("keys: invalid P-256 public key")
		}
		return fmt.Appendf(nil, `{"crv":"P-256","kty":"EC","x":%q,"y":%q}`,
			b64.EncodeToString(u[1:1+coordLen]), b64.EncodeToString(u[1+coordLen:])), nil
	}
	return nil, fmt.Errorf("keys: unsupported public key type %T", pub)
}

// ThumbprintOf returns the RFC 7638 SHA-256 thumbprint of pub (see
// PublicJWKJSONOf), base64url without padding.
func ThumbprintOf(pub crypto.PublicKey) (string, error) {
	j, err := PublicJWKJSONOf(pub)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(j)
	return b64.EncodeToString(sum[:]), nil
}

// privateMembers are the JWK members that carry private or symmetric key
// material (RFC 7518 section 6).
var privateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

// PublicKeyFromJWK parses a public JWK of an accepted algorithm: kty "EC"
// with crv "P-256", or kty "OKP" with crv "Ed25519". It returns an
// *ecdsa.PublicKey or an ed25519.PublicKey and the algorithm.
//
// It refuses JWKs that hold private or symmetric material, duplicate
// members, coordinates that are not exactly 32 bytes of unpadded base64url,
// P-256 points off the curve, an "alg" other than the curve's, and a "use"
// other than "sig". Other members are ignored.
func PublicKeyFromJWK(data []byte) (crypto.PublicKey, Algorithm, error) {
	if len(data) > maxJWKSize {
		return nil, "", fmt.Errorf("keys: JWK of %d bytes is too large", len(data))
	}
	m, err := jsonObject(data)
	if err != nil {
		return nil, "", fmt.Errorf("keys: invalid JWK: %w", err)
	}
	for _, name := range privateMembers {
		if _, ok := m[name]; ok {
			return nil, "", fmt.Errorf("keys: JWK holds private key material (member %q); only public keys are accepted", name)
		}
	}
	kty, err := stringMember(m, "kty", true)
	if err != nil {
		return nil, "", err
	}
	crv, err := stringMember(m, "crv", kty == "EC" || kty == "OKP")
	if err != nil {
		return nil, "", err
	}
	var (
		alg Algorithm
		pub crypto.PublicKey
	)
	switch {
	case kty == "oct":
		return nil, "", errors.New("keys: symmetric (kty oct) JWKs are refused")
	case kty == "EC" && crv == "P-256":
		alg = ES256
		x, err := coordinate(m, "x")
		if err != nil {
			return nil, "", err
		}
		y, err := coordinate(m, "y")
		if err != nil {
			return nil, "", err
		}
		u := append(append([]byte{4}, x...), y...)
		k, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), u)
		if err != nil {
			return nil, "", errors.New("keys: JWK x and y are not a point on P-256")
		}
		pub = k
	case kty == "OKP" && crv == "Ed25519":
		alg = EdDSA
		if _, ok := m["y"]; ok {
			return nil, "", errors.New(`keys: OKP JWK has a "y" member`)
		}
		x, err := coordinate(m, "x")
		if err != nil {
			return nil, "", err
		}
		pub = ed25519.PublicKey(x)
	case kty == "EC" || kty == "OKP":
		return nil, "", fmt.Errorf("keys: unsupported JWK curve %q for kty %s (want P-256 or Ed25519)", crv, kty)
	default:
		return nil, "", fmt.Errorf("keys: unsupported JWK kty %q (want EC or OKP)", kty)
	}
	if a, err := stringMember(m, "alg", false); err != nil {
		return nil, "", err
	} else if a != "" && Algorithm(a) != alg {
		return nil, "", fmt.Errorf("keys: JWK alg %q does not match its key type (want %s)", a, alg)
	}
	if use, err := stringMember(m, "use", false); err != nil {
		return nil, "", err
	} else if use != "" && use != "sig" {
		return nil, "", fmt.Errorf(`keys: JWK use %q is not "sig"`, use)
	}
	return pub, alg, nil
}

// jsonObject parses one JSON object into its members, refusing duplicate
// names (which parsers resolve differently) and trailing data.
func jsonObject(data []byte) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("not a JSON object")
	}
	m := make(map[string]json.RawMessage)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		name, ok := tok.(string)
		if !ok {
			return nil, errors.New("malformed object")
		}
		if _, dup := m[name]; dup {
			return nil, fmt.Errorf("duplicate member %q", name)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		m[name] = v
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON object")
	}
	return m, nil
}

// stringMember returns the string member name of m; "" if it is absent and
// not required.
func stringMember(m map[string]json.RawMessage, name string, required bool) (string, error) {
	raw, ok := m[name]
	if !ok {
		if required {
			return "", fmt.Errorf("keys: JWK has no %q member", name)
		}
		return "", nil
	}
	var s string
	// Unmarshal would take null for "".
	if !bytes.HasPrefix(bytes.TrimSpace(raw), []byte{'"'}) || json.Unmarshal(raw, &s) != nil {
		return "", fmt.Errorf("keys: JWK member %q is not a string", name)
	}
	return s, nil
}

// coordinate returns the required member name of m decoded from unpadded
// base64url, which must be exactly coordLen bytes (RFC 7518 section 6.2.1.2
// requires the full length for EC coordinates; RFC 8037 fixes Ed25519's).
func coordinate(m map[string]json.RawMessage, name string) ([]byte, error) {
	s, err := stringMember(m, name, true)
	if err != nil {
		return nil, err
	}
	b, err := b64.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("keys: JWK member %q is not unpadded base64url", name)
	}
	if len(b) != coordLen {
		return nil, fmt.Errorf("keys: JWK member %q is %d bytes, want %d", name, len(b), coordLen)
	}
	return b, nil
}
