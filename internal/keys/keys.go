// Package keys generates medid's signing keys, describes their public
// halves as JWKs, Multikeys and RFC 7638 thumbprints, and keeps the private
// halves encrypted at rest in a kv.Store under a master key.
//
// Only two algorithms exist: EdDSA (Ed25519) and ES256 (ECDSA on P-256).
// A PrivateKey is opaque: it cannot be printed, logged or marshalled, and its
// material leaves the package only as a crypto.Signer for signing libraries.
package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/medid/medid/did/multikey"
)

// Algorithm is a JOSE signature algorithm name that medid accepts.
type Algorithm string

// The accepted algorithms. Nothing else is.
const (
	EdDSA Algorithm = "EdDSA" // Ed25519
	ES256 Algorithm = "ES256" // ECDSA with P-256 and SHA-256
)

func (a Algorithm) check() error {
	switch a {
	case EdDSA, ES256:
		return nil
	}
	return fmt.Errorf("keys: unsupported algorithm %q (want %s or %s)", string(a), EdDSA, ES256)
}

// jwa returns the jwx name of a, which must be valid.
func (a Algorithm) jwa() jwa.SignatureAlgorithm {
	if a == EdDSA {
		return jwa.EdDSA()
	}
	return jwa.ES256()
}

// PrivateKey is a signing key. It is opaque: fmt, slog, encoding/json and
// encoding (text) print or marshal only its algorithm and thumbprint, or
// refuse. The zero value is not a usable key.
//
// Its methods have value receivers so that a PrivateKey printed by value
// is redacted just as a *PrivateKey is.
type PrivateKey struct {
	alg    Algorithm
	signer crypto.Signer // ed25519.PrivateKey or *ecdsa.PrivateKey on P-256
	thumb  string        // RFC 7638 thumbprint of the public key
}

// Generate returns a new random key for alg.
func Generate(alg Algorithm) (*PrivateKey, error) {
	if err := alg.check(); err != nil {
		return nil, err
	}
	var signer crypto.Signer
	switch alg {
	case EdDSA:
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("keys: generate %s: %w", alg, err)
		}
		signer = k
	case ES256:
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("keys: generate %s: %w", alg, err)
		}
		signer = k
	}
	return newPrivateKey(alg, signer)
}

// newPrivateKey wraps signer, checking that it is a key for alg.
func newPrivateKey(alg Algorithm, signer crypto.Signer) (*PrivateKey, error) {
	if err := alg.check(); err != nil {
		return nil, err
	}
	var pub crypto.PublicKey
	switch k := signer.(type) {
	case ed25519.PrivateKey:
		if alg != EdDSA || len(k) != ed25519.PrivateKeySize {
			return nil, fmt.Errorf("keys: an Ed25519 key is not a %s key", alg)
		}
		pub = k.Public()
	case *ecdsa.PrivateKey:
		if alg != ES256 || k == nil || k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("keys: this ECDSA key is not a %s key", alg)
		}
		pub = k.Public()
	default:
		return nil, fmt.Errorf("keys: unsupported private key type %T", signer)
	}
	thumb, err := ThumbprintOf(pub)
	if err != nil {
		return nil, err
	}
	return &PrivateKey{alg: alg, signer: signer, thumb: thumb}, nil
}

var errZeroKey = errors.New("keys: zero PrivateKey")

// Algorithm returns the key's algorithm.
func (k PrivateKey) Algorithm() Algorithm { return k.alg }

// Public returns the public key: an ed25519.PublicKey or an
// *ecdsa.PublicKey. It is nil for the zero PrivateKey.
func (k PrivateKey) Public() crypto.PublicKey {
	if k.signer == nil {
		return nil
	}
	return k.signer.Public()
}

// Signer returns the underlying ed25519.PrivateKey or *ecdsa.PrivateKey, for
// signing libraries such as jwx: jws.WithKey(alg, k.Signer()). Callers must
// not print, store or modify it.
func (k PrivateKey) Signer() crypto.Signer { return k.signer }

// PublicJWK returns the public key as a jwx JWK with its "alg" set.
func (k PrivateKey) PublicJWK() (jwk.Key, error) {
	if k.signer == nil {
		return nil, errZeroKey
	}
	key, err := jwk.Import(k.signer.Public())
	if err != nil {
		return nil, fmt.Errorf("keys: public JWK: %w", err)
	}
	if err := key.Set(jwk.AlgorithmKey, k.alg.jwa()); err != nil {
		return nil, fmt.Errorf("keys: public JWK: %w", err)
	}
	return key, nil
}

// PublicJWKJSON returns the public key as the canonical JWK of RFC 7638:
// only the required members, sorted, without whitespace.
func (k PrivateKey) PublicJWKJSON() ([]byte, error) {
	if k.signer == nil {
		return nil, errZeroKey
	}
	return PublicJWKJSONOf(k.signer.Public())
}

// Multikey returns the public key in Multikey (did:key) form.
func (k PrivateKey) Multikey() (string, error) {
	if k.signer == nil {
		return "", errZeroKey
	}
	return multikey.Encode(k.signer.Public())
}

// Thumbprint returns the RFC 7638 SHA-256 thumbprint of the public key,
// base64url without padding. It is "" for the zero PrivateKey.
func (k PrivateKey) Thumbprint() string { return k.thumb }

// String describes the key without its material.
func (k PrivateKey) String() string {
	if k.signer == nil {
		return "keys.PrivateKey(zero)"
	}
	return fmt.Sprintf("keys.PrivateKey(%s, thumbprint=%s)", k.alg, k.thumb)
}

// GoString is String, so that %#v prints no material either.
func (k PrivateKey) GoString() string { return k.String() }

// Format writes String for every verb, so that no fmt verb prints the
// key's material.
func (k PrivateKey) Format(f fmt.State, _ rune) { io.WriteString(f, k.String()) }

// LogValue makes slog log String.
func (k PrivateKey) LogValue() slog.Value { return slog.StringValue(k.String()) }

var errMarshal = errors.New("keys: private keys are never marshalled; use a Keystore")

// MarshalJSON refuses, so that a key is never serialised by accident.
func (k PrivateKey) MarshalJSON() ([]byte, error) { return nil, errMarshal }

// MarshalText refuses, so that a key is never serialised by accident.
func (k PrivateKey) MarshalText() ([]byte, error) { return nil, errMarshal }
