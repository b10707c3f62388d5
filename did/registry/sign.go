package registry

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"fmt"

	"github.com/medid/medid/internal/keys"
)

// SignInput signs a JWS signing input with k and returns the JWS signature
// bytes (RFC 7518: raw r||s for ES256; RFC 8037 for EdDSA). Clients in
// client-managed mode do the same over the serializedPayload they receive.
func SignInput(k *keys.PrivateKey, input []byte) ([]byte, error) {
	switch s := k.Signer().(type) {
	case ed25519.PrivateKey:
		return ed25519.Sign(s, input), nil
	case *ecdsa.PrivateKey:
		sum := sha256.Sum256(input)
		r, ss, err := ecdsa.Sign(rand.Reader, s, sum[:])
		if err != nil {
			return nil, err
		}
		out := make([]byte, 64)
		r.FillBytes(out[:32])
		ss.FillBytes(out[32:])
		return out, nil
	default:
		return nil, fmt.Errorf("registry: unsupported key %T", k.Signer())
	}
}
