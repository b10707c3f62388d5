package keys

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
)

// Sealer encrypts small records at rest (AES-256-GCM) under a key derived
// from the master key for one purpose, so records of one purpose cannot be
// opened as another's. The additional data binds a record to its place.
type Sealer struct{ aead cipher.AEAD }

// NewSealer derives a sealer for purpose (e.g. "issuer offers") from mk.
func NewSealer(mk MasterKey, purpose string) (*Sealer, error) {
	if mk.IsZero() {
		return nil, errors.New("keys: zero master key")
	}
	if purpose == "" {
		return nil, errors.New("keys: a sealer needs a purpose")
	}
	k, err := hkdf.Key(sha256.New, mk.key[:], nil, "medid sealer v1 "+purpose, 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts plaintext bound to ad.
func (s *Sealer) Seal(plaintext, ad []byte) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plaintext)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return s.aead.Seal(nonce, nonce, plaintext, ad), nil
}

// Open decrypts a sealed record bound to ad.
func (s *Sealer) Open(sealed, ad []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n+s.aead.Overhead() {
		return nil, fmt.Errorf("%w: sealed record too short", ErrDecrypt)
	}
	out, err := s.aead.Open(nil, sealed[:n], sealed[n:], ad)
	if err != nil {
		return nil, ErrDecrypt
	}
	return out, nil
}
