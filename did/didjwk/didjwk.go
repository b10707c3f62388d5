// Package didjwk implements the did:jwk DID method
// (https://github.com/quartzjer/did-jwk/blob/main/spec.md): the
// method-specific identifier is the base64url encoding of a public JSON Web
// Key, and the DID document is derived from the key alone, without I/O.
//
// Only public keys of three kinds are accepted: EC P-256, OKP Ed25519 and
// OKP X25519. JWKs with private or symmetric members, duplicate members,
// unknown key types or curves, or invalid points are rejected.
package didjwk

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdh"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/gowebpki/jcs"

	"github.com/medid/medid/did"
	"github.com/medid/medid/internal/keys"
)

// MethodName is the DID method name, "jwk".
const MethodName = "jwk"

// jwkContext is the @context of a did:jwk document, per the spec.
const jwkContext = `["https://www.w3.org/ns/did/v1","https://w3id.org/security/suites/jws-2020/v1"]`

// Method resolves did:jwk DIDs. The zero value is ready to use.
type Method struct{}

var _ did.Method = Method{}

// Name returns "jwk".
func (Method) Name() string { return MethodName }

// Resolve decodes the JWK in d and returns the derived document: one
// JsonWebKey2020 verification method "did:jwk:…#0" whose publicKeyJwk is
// the decoded JWK, referenced from the verification relationships the key
// can serve. With "use":"sig" those are assertionMethod, authentication,
// capabilityInvocation and capabilityDelegation; with "use":"enc" only
// keyAgreement; without "use", P-256 keys get all five, Ed25519 keys the
// four signing relationships and X25519 keys keyAgreement only.
//
// did:jwk documents never change, so the version options are ignored. An
// identifier that does not hold an acceptable JWK gives an error wrapping
// did.ErrInvalidDID.
func (Method) Resolve(_ context.Context, d did.DID, _ did.ResolutionOptions) (*did.Result, error) {
	if d.Method() != MethodName {
		return nil, fmt.Errorf("%w: not a did:jwk DID", did.ErrInvalidDID)
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(d.ID())
	if err != nil {
		return nil, fmt.Errorf("%w: did:jwk identifier is not base64url", did.ErrInvalidDID)
	}
	k, err := parseJWK(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: did:jwk: %v", did.ErrInvalidDID, err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, raw); err != nil {
		return nil, fmt.Errorf("%w: did:jwk: %v", did.ErrInvalidDID, err)
	}
	id := d.String()
	vmID := id + "#0"
	ref := []did.Relationship{{Reference: vmID}}
	doc := &did.Document{
		Context: json.RawMessage(jwkContext),
		ID:      id,
		VerificationMethod: []did.VerificationMethod{{
			ID:           vmID,
			Type:         did.TypeJSONWebKey2020,
			Controller:   id,
			PublicKeyJwk: compact.Bytes(),
		}},
	}
	if k.canSign() {
		doc.AssertionMethod = ref
		doc.Authentication = ref
		doc.CapabilityInvocation = ref
		doc.CapabilityDelegation = ref
	}
	if k.canAgree() {
		doc.KeyAgreement = ref
	}
	return &did.Result{Document: doc}, nil
}

// New returns the did:jwk DID of a public JWK. The JWK is checked as
// Resolve checks it, then canonicalized with JCS (RFC 8785) before
// encoding, so the same key members always give the same DID.
func New(jwkJSON []byte) (did.DID, error) {
	if _, err := parseJWK(jwkJSON); err != nil {
		return did.DID{}, fmt.Errorf("didjwk: %w", err)
	}
	canon, err := jcs.Transform(jwkJSON)
	if err != nil {
		return did.DID{}, fmt.Errorf("didjwk: %w", err)
	}
	return did.Parse("did:jwk:" + base64.RawURLEncoding.EncodeToString(canon))
}

// FromPublicKey returns the did:jwk DID of a P-256 (*ecdsa.PublicKey) or
// Ed25519 public key: New of its JWK, without parsing the JWK back. It
// is the cheap way for a verifier that holds a checked key.
func FromPublicKey(pub crypto.PublicKey) (did.DID, error) {
	// PublicJWKJSONOf writes the members in JCS order, with base64url
	// values that JCS leaves as they are: its output is already canonical.
	j, err := keys.PublicJWKJSONOf(pub)
	if err != nil {
		return did.DID{}, fmt.Errorf("didjwk: %w", err)
	}
	return did.Parse("did:jwk:" + base64.RawURLEncoding.EncodeToString(j))
}

// key is what Resolve needs to know about a validated JWK.
type key struct {
	crv string // "P-256", "Ed25519" or "X25519"
	use string // "", "sig" or "enc"
}

func (k key) canSign() bool {
	return k.use == "sig" || k.use == "" && k.crv != "X25519"
}

func (k key) canAgree() bool {
	return k.use == "enc" || k.use == "" && k.crv != "Ed25519"
}

// parseJWK validates a public JWK and returns its curve and use.
func parseJWK(b []byte) (key, error) {
	if !utf8.Valid(b) {
		return key{}, errors.New("JWK is not UTF-8")
	}
	m, err := members(b)
	if err != nil {
		return key{}, err
	}
	for _, name := range [...]string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"} {
		if _, ok := m[name]; ok {
			return key{}, fmt.Errorf("JWK has private or symmetric member %q", name)
		}
	}
	str := func(name string) (string, error) {
		v, ok := m[name]
		if !ok {
			return "", nil
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil || s == "" {
			return "", fmt.Errorf("JWK member %q must be a non-empty string", name)
		}
		return s, nil
	}
	coord := func(name string) ([]byte, error) {
		s, err := str(name)
		if err != nil {
			return nil, err
		}
		c, err := base64.RawURLEncoding.Strict().DecodeString(s)
		if err != nil || len(c) != 32 {
			return nil, fmt.Errorf("JWK member %q must be 32 bytes of base64url", name)
		}
		return c, nil
	}
	kty, err := str("kty")
	if err != nil {
		return key{}, err
	}
	crv, err := str("crv")
	if err != nil {
		return key{}, err
	}
	use, err := str("use")
	if err != nil {
		return key{}, err
	}
	if use != "" && use != "sig" && use != "enc" {
		return key{}, fmt.Errorf("JWK has unknown use %q", use)
	}
	x, err := coord("x")
	if err != nil {
		return key{}, err
	}
	switch {
	case kty == "EC" && crv == "P-256":
		y, err := coord("y")
		if err != nil {
			return key{}, err
		}
		if _, err := ecdh.P256().NewPublicKey(append(append([]byte{4}, x...), y...)); err != nil {
			return key{}, errors.New("JWK is not a point on P-256")
		}
	case kty == "OKP" && crv == "Ed25519":
		if use == "enc" {
			return key{}, errors.New(`an Ed25519 JWK cannot have "use":"enc"`)
		}
	case kty == "OKP" && crv == "X25519":
		if use == "sig" {
			return key{}, errors.New(`an X25519 JWK cannot have "use":"sig"`)
		}
	default:
		return key{}, fmt.Errorf("unsupported JWK kty %q crv %q (want EC P-256, OKP Ed25519 or OKP X25519)", kty, crv)
	}
	if _, ok := m["y"]; ok && kty == "OKP" {
		return key{}, errors.New(`an OKP JWK cannot have "y"`)
	}
	return key{crv: crv, use: use}, nil
}

// members decodes a JSON object into its members, rejecting duplicates and
// trailing data.
func members(b []byte) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errors.New("JWK is not a JSON object")
	}
	m := make(map[string]json.RawMessage, 8)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, errors.New("JWK is not valid JSON")
		}
		name, ok := tok.(string)
		if !ok {
			return nil, errors.New("JWK is not valid JSON")
		}
		if _, dup := m[name]; dup {
			return nil, fmt.Errorf("JWK has duplicate member %q", name)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, errors.New("JWK is not valid JSON")
		}
		m[name] = v
	}
	if _, err := dec.Token(); err != nil {
		return nil, errors.New("JWK is not valid JSON")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("JWK has data after the JSON object")
	}
	return m, nil
}
