// Package multikey encodes and decodes public keys in the Multikey format of
// W3C Controlled Identifiers, the form did:key identifiers carry: the letter
// 'z' (multibase base58-btc) followed by the base58 encoding of a varint
// multicodec prefix and the key bytes.
//
// Two key types are supported: Ed25519 (multicodec ed25519-pub, 0xed; the
// 32-byte key) and P-256 (multicodec p256-pub, 0x1200; the 33-byte
// compressed SEC1 point).
package multikey

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"errors"
	"fmt"
)

// Varint encodings of the multicodec codes.
var (
	prefixEd25519 = []byte{0xed, 0x01} // ed25519-pub 0xed
	prefixP256    = []byte{0x80, 0x24} // p256-pub 0x1200
)

const (
	p256CompressedLen   = 33
	p256UncompressedLen = 65
	// maxEncodedLen bounds the input Decode reads. Every supported key
	// encodes in under 50 characters; the bound keeps base58 decoding,
	// which is quadratic, cheap on hostile input.
	maxEncodedLen = 64
)

// Encode returns the Multikey encoding of pub, which must be an
// ed25519.PublicKey or an *ecdsa.PublicKey on P-256.
func Encode(pub crypto.PublicKey) (string, error) {
	var b []byte
	switch k := pub.(type) {
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return "", fmt.Errorf("multikey: Ed25519 public key of %d bytes, want %d", len(k), ed25519.PublicKeySize)
		}
		b = append(bytes.Clone(prefixEd25519), k...)
	case *ecdsa.PublicKey:
		if k == nil || k.Curve != elliptic.P256() {
			return "", errors.New("multikey: unsupported ECDSA key: only P-256 is supported")
		}
		u, err := k.Bytes()
		if err != nil {
			return "", fmt.Errorf("multikey: invalid P-256 public key: %w", err)
		}
		if len(u) != p256UncompressedLen || u[0] != 4 {
			return "", errors.New("multikey: invalid P-256 public key")
		}
		// SEC1 compressed form: 0x02 or 0x03 by the parity of y, then x.
		b = append(bytes.Clone(prefixP256), 2|u[64]&1)
		b = append(b, u[1:33]...)
	default:
		return "", fmt.Errorf("multikey: unsupported public key type %T", pub)
	}
	return "z" + base58Encode(b), nil
}

// Decode parses a Multikey string and returns an ed25519.PublicKey or an
// *ecdsa.PublicKey on P-256. It checks the multibase and multicodec
// prefixes, the key length, and for P-256 that the point is on the curve.
func Decode(s string) (crypto.PublicKey, error) {
	if len(s) > maxEncodedLen {
		return nil, fmt.Errorf("multikey: encoding of %d characters is too long", len(s))
	}
	if len(s) == 0 || s[0] != 'z' {
		return nil, errors.New("multikey: not multibase base58-btc (must start with 'z')")
	}
	b, err := base58Decode(s[1:])
	if err != nil {
		return nil, fmt.Errorf("multikey: %w", err)
	}
	switch {
	case bytes.HasPrefix(b, prefixEd25519):
		k := b[len(prefixEd25519):]
		if len(k) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("multikey: Ed25519 key of %d bytes, want %d", len(k), ed25519.PublicKeySize)
		}
		return ed25519.PublicKey(bytes.Clone(k)), nil
	case bytes.HasPrefix(b, prefixP256):
		k := b[len(prefixP256):]
		if len(k) != p256CompressedLen || (k[0] != 2 && k[0] != 3) {
			return nil, fmt.Errorf("multikey: P-256 key is not a %d-byte compressed point", p256CompressedLen)
		}
		x, y := elliptic.UnmarshalCompressed(elliptic.P256(), k)
		if x == nil {
			return nil, errors.New("multikey: P-256 key is not a point on the curve")
		}
		u := make([]byte, p256UncompressedLen)
		u[0] = 4
		x.FillBytes(u[1:33])
		y.FillBytes(u[33:])
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), u)
		if err != nil {
			return nil, fmt.Errorf("multikey: invalid P-256 key: %w", err)
		}
		return pub, nil
	default:
		return nil, errors.New("multikey: unsupported multicodec (want ed25519-pub or p256-pub)")
	}
}
