package did

import (
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/medid/medid/did/multikey"
)

// Verification method types understood by VerificationMethod.PublicKey.
const (
	TypeMultikey                   = "Multikey"
	TypeJSONWebKey                 = "JsonWebKey"
	TypeJSONWebKey2020             = "JsonWebKey2020"
	TypeEd25519VerificationKey2020 = "Ed25519VerificationKey2020"
)

// minRSABits is the smallest RSA modulus PublicKey accepts.
const minRSABits = 2048

// PublicKey returns the public key of the verification method:
//
//   - Multikey: publicKeyMultibase decoded by did/multikey (Ed25519 or
//     P-256);
//   - Ed25519VerificationKey2020: publicKeyMultibase, which must hold an
//     Ed25519 key;
//   - JsonWebKey and JsonWebKey2020: publicKeyJwk, which must be a public
//     key (a JWK with private or symmetric members is refused): EC P-256,
//     P-384 or P-521 (*ecdsa.PublicKey), OKP Ed25519 (ed25519.PublicKey), OKP
//     X25519 (*ecdh.PublicKey) or RSA of at least 2048 bits
//     (*rsa.PublicKey).
//
// Other types, and a method carrying both publicKeyJwk and
// publicKeyMultibase, give an error.
func (vm VerificationMethod) PublicKey() (crypto.PublicKey, error) {
	if len(vm.PublicKeyJwk) > 0 && vm.PublicKeyMultibase != "" {
		return nil, errors.New("did: verification method has both publicKeyJwk and publicKeyMultibase")
	}
	switch vm.Type {
	case TypeMultikey:
		if vm.PublicKeyMultibase == "" {
			return nil, errors.New("did: Multikey verification method without publicKeyMultibase")
		}
		return multikey.Decode(vm.PublicKeyMultibase)
	case TypeEd25519VerificationKey2020:
		if vm.PublicKeyMultibase == "" {
			return nil, errors.New("did: Ed25519VerificationKey2020 without publicKeyMultibase")
		}
		pub, err := multikey.Decode(vm.PublicKeyMultibase)
		if err != nil {
			return nil, err
		}
		if _, ok := pub.(ed25519.PublicKey); !ok {
			return nil, errors.New("did: Ed25519VerificationKey2020 holds a non-Ed25519 key")
		}
		return pub, nil
	case TypeJSONWebKey, TypeJSONWebKey2020:
		if len(vm.PublicKeyJwk) == 0 {
			return nil, fmt.Errorf("did: %s verification method without publicKeyJwk", vm.Type)
		}
		return publicKeyFromJWK(vm.PublicKeyJwk)
	default:
		return nil, fmt.Errorf("did: unsupported verification method type %q", vm.Type)
	}
}

// publicKeyFromJWK parses a public JWK with jwx and returns the Go key.
func publicKeyFromJWK(raw []byte) (crypto.PublicKey, error) {
	if err := checkPublicJWK(raw); err != nil {
		return nil, fmt.Errorf("did: publicKeyJwk %w", err)
	}
	key, err := jwk.ParseKey(raw)
	if err != nil {
		return nil, fmt.Errorf("did: publicKeyJwk: %w", err)
	}
	if private, err := jwk.IsPrivateKey(key); err != nil || private {
		return nil, errors.New("did: publicKeyJwk is not a public key")
	}
	var pub any
	if err := jwk.Export(key, &pub); err != nil {
		return nil, fmt.Errorf("did: publicKeyJwk: %w", err)
	}
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
		default:
			return nil, errors.New("did: publicKeyJwk: unsupported curve")
		}
		if _, err := k.ECDH(); err != nil { // rejects points off the curve
			return nil, fmt.Errorf("did: publicKeyJwk: %w", err)
		}
		return k, nil
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return nil, errors.New("did: publicKeyJwk: invalid Ed25519 key")
		}
		return k, nil
	case *ecdh.PublicKey:
		if k.Curve() != ecdh.X25519() {
			return nil, errors.New("did: publicKeyJwk: unsupported curve")
		}
		return k, nil
	case *rsa.PublicKey:
		if k.N.BitLen() < minRSABits {
			return nil, fmt.Errorf("did: publicKeyJwk: RSA key shorter than %d bits", minRSABits)
		}
		return k, nil
	default:
		return nil, fmt.Errorf("did: publicKeyJwk: unsupported key type %T", pub)
	}
}
