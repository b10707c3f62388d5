package keys

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/x509"
	"errors"
	"fmt"
)

// ExportPKCS8 returns the private key as PKCS #8 DER. It is the one
// deliberate way out of a PrivateKey, for a client that keeps its own keys
// (the CLI's key file); servers use the Keystore instead.
func ExportPKCS8(k *PrivateKey) ([]byte, error) {
	if k == nil || k.signer == nil {
		return nil, errors.New("keys: nil key")
	}
	return x509.MarshalPKCS8PrivateKey(k.signer)
}

// ParsePKCS8 parses a PKCS #8 DER private key (Ed25519 or P-256).
func ParsePKCS8(der []byte) (*PrivateKey, error) {
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, errors.New("keys: malformed PKCS #8 private key")
	}
	switch p := parsed.(type) {
	case ed25519.PrivateKey:
		return newPrivateKey(EdDSA, p)
	case *ecdsa.PrivateKey:
		return newPrivateKey(ES256, p)
	}
	return nil, fmt.Errorf("keys: unsupported private key type %T", parsed)
}
