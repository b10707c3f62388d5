package openid4vp

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"time"

	"github.com/medid/medid/internal/keys"
)

// Signer signs request objects. Alg is the JWS alg, ES256 or EdDSA; Sign
// returns the JWS signature over signingInput (for ES256 the 64-byte R||S
// form of RFC 7518 section 3.4, not ASN.1).
type Signer interface {
	KeyID() string
	Alg() string
	Sign(ctx context.Context, signingInput []byte) ([]byte, error)
}

// KeySigner is a Signer over a medid private key. For the
// decentralized_identifier prefix, KID is a verification method of the
// verifier's DID: absolute (did:medid:…#key-1) or a fragment (#key-1),
// which the Service resolves against Options.DID.
type KeySigner struct {
	Key *keys.PrivateKey
	KID string
}

// KeyID returns the kid.
func (k KeySigner) KeyID() string { return k.KID }

// Alg returns the key's algorithm.
func (k KeySigner) Alg() string {
	if k.Key == nil {
		return ""
	}
	return string(k.Key.Algorithm())
}

// Sign signs signingInput.
func (k KeySigner) Sign(_ context.Context, in []byte) ([]byte, error) {
	if k.Key == nil || k.Key.Signer() == nil {
		return nil, errors.New("openid4vp: KeySigner has no key")
	}
	return signWith(k.Key.Signer(), k.Alg(), in)
}

// signWith makes a JWS signature with any crypto.Signer.
func signWith(s crypto.Signer, alg string, in []byte) ([]byte, error) {
	switch alg {
	case "ES256":
		pub, ok := s.Public().(*ecdsa.PublicKey)
		if !ok || pub.Curve != elliptic.P256() {
			return nil, errors.New("openid4vp: ES256 needs a P-256 key")
		}
		d := sha256.Sum256(in)
		der, err := s.Sign(rand.Reader, d[:], crypto.SHA256)
		if err != nil {
			return nil, err
		}
		var sig struct{ R, S *big.Int }
		if rest, err := asn1.Unmarshal(der, &sig); err != nil || len(rest) > 0 {
			return nil, errors.New("openid4vp: malformed ECDSA signature from signer")
		}
		out := make([]byte, 64)
		sig.R.FillBytes(out[:32])
		sig.S.FillBytes(out[32:])
		return out, nil
	case "EdDSA":
		if _, ok := s.Public().(ed25519.PublicKey); !ok {
			return nil, errors.New("openid4vp: EdDSA needs an Ed25519 key")
		}
		return s.Sign(rand.Reader, in, crypto.Hash(0))
	}
	return nil, fmt.Errorf("openid4vp: unsupported signing alg %q", alg)
}

// X509Signer signs request objects for the x509_san_dns client_id prefix:
// the key of the leaf certificate of a configured chain, sent in x5c.
type X509Signer struct {
	key   crypto.Signer
	alg   string
	chain [][]byte // DER, leaf first
	leaf  *x509.Certificate
	dns   string
}

// NewX509Signer parses a PEM certificate chain (leaf first) and the leaf's
// PEM private key (PKCS #8 or SEC 1; P-256 or Ed25519). dnsName is the
// client identifier after "x509_san_dns:"; it must be a dNSName SAN of the
// leaf. Empty means the leaf's first dNSName.
func NewX509Signer(chainPEM, keyPEM []byte, dnsName string) (*X509Signer, error) {
	var chain [][]byte
	var certs []*x509.Certificate
	for rest := chainPEM; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("openid4vp: certificate %d: %w", len(certs), err)
		}
		certs = append(certs, c)
		chain = append(chain, b.Bytes)
	}
	if len(certs) == 0 {
		return nil, errors.New("openid4vp: no certificate in the PEM chain")
	}
	for i := 0; i+1 < len(certs); i++ {
		if err := certs[i].CheckSignatureFrom(certs[i+1]); err != nil {
			return nil, fmt.Errorf("openid4vp: certificate %d is not signed by certificate %d: %w", i, i+1, err)
		}
	}
	kb, _ := pem.Decode(keyPEM)
	if kb == nil {
		return nil, errors.New("openid4vp: no PEM private key")
	}
	var key any
	var err error
	switch kb.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(kb.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(kb.Bytes)
	default:
		return nil, fmt.Errorf("openid4vp: unsupported PEM key type %q", kb.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("openid4vp: private key: %w", err)
	}
	s := &X509Signer{chain: chain, leaf: certs[0]}
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() {
			return nil, errors.New("openid4vp: the certificate key must be P-256 or Ed25519")
		}
		s.key, s.alg = k, "ES256"
	case ed25519.PrivateKey:
		s.key, s.alg = k, "EdDSA"
	default:
		return nil, fmt.Errorf("openid4vp: unsupported private key type %T", key)
	}
	type equaler interface{ Equal(crypto.PublicKey) bool }
	if eq, ok := s.key.Public().(equaler); !ok || !eq.Equal(s.leaf.PublicKey) {
		return nil, errors.New("openid4vp: the private key does not match the leaf certificate")
	}
	if dnsName == "" {
		if len(s.leaf.DNSNames) == 0 {
			return nil, errors.New("openid4vp: the leaf certificate has no dNSName SAN")
		}
		dnsName = s.leaf.DNSNames[0]
	}
	if !slices.Contains(s.leaf.DNSNames, dnsName) {
		return nil, fmt.Errorf("openid4vp: %q is not a dNSName SAN of the leaf certificate", dnsName)
	}
	s.dns = dnsName
	return s, nil
}

// KeyID is empty: the key is identified by x5c.
func (s *X509Signer) KeyID() string { return "" }

// Alg returns ES256 or EdDSA.
func (s *X509Signer) Alg() string { return s.alg }

// Sign signs signingInput with the leaf's key.
func (s *X509Signer) Sign(_ context.Context, in []byte) ([]byte, error) {
	return signWith(s.key, s.alg, in)
}

// DNSName is the client identifier without its prefix.
func (s *X509Signer) DNSName() string { return s.dns }

// x5c is the chain as the x5c header wants it (standard base64 DER).
func (s *X509Signer) x5c() []string {
	out := make([]string, len(s.chain))
	for i, der := range s.chain {
		out[i] = base64.StdEncoding.EncodeToString(der)
	}
	return out
}

// validAt reports an error if the leaf certificate is not valid at t.
func (s *X509Signer) validAt(t time.Time) error {
	if t.Before(s.leaf.NotBefore) || t.After(s.leaf.NotAfter) {
		return fmt.Errorf("openid4vp: the leaf certificate is valid from %s to %s", s.leaf.NotBefore, s.leaf.NotAfter)
	}
	return nil
}

// TypRequestObject is the typ of a signed request object (RFC 9101).
const TypRequestObject = "oauth-authz-req+jwt"

// signJWS returns the compact JWS of payload signed by s, with typ, kid (if
// not empty) and, for an X509Signer, x5c.
func signJWS(ctx context.Context, s Signer, kid string, payload []byte) (string, error) {
	alg := s.Alg()
	if alg != "ES256" && alg != "EdDSA" {
		return "", fmt.Errorf("openid4vp: signer alg %q is not ES256 or EdDSA", alg)
	}
	h := map[string]any{"alg": alg, "typ": TypRequestObject}
	if kid != "" {
		h["kid"] = kid
	}
	if xs, ok := s.(*X509Signer); ok {
		h["x5c"] = xs.x5c()
	}
	hb, err := json.Marshal(h)
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	in := enc.EncodeToString(hb) + "." + enc.EncodeToString(payload)
	sig, err := s.Sign(ctx, []byte(in))
	if err != nil {
		return "", fmt.Errorf("openid4vp: sign request object: %w", err)
	}
	return in + "." + enc.EncodeToString(sig), nil
}
