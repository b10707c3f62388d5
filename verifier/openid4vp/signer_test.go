package openid4vp

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/medid/medid/internal/keys"
)

// Both key types sign request objects that jwx verifies.
func TestKeySigner(t *testing.T) {
	for _, alg := range []keys.Algorithm{keys.ES256, keys.EdDSA} {
		k, err := keys.Generate(alg)
		if err != nil {
			t.Fatal(err)
		}
		jwt, err := signJWS(context.Background(), KeySigner{Key: k, KID: "did:medid:x#key-1"}, "did:medid:x#key-1", []byte(`{"a":1}`))
		if err != nil {
			t.Fatal(err)
		}
		ja := jwa.ES256()
		if alg == keys.EdDSA {
			ja = jwa.EdDSA()
		}
		if _, err := jws.Verify([]byte(jwt), jws.WithKey(ja, k.Public())); err != nil {
			t.Errorf("%s: %v", alg, err)
		}
		other, _ := keys.Generate(alg)
		if _, err := jws.Verify([]byte(jwt), jws.WithKey(ja, other.Public())); err == nil {
			t.Errorf("%s: verified with another key", alg)
		}
	}
}

func TestNewX509SignerRefuses(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "v"}, DNSNames: []string{"v.example"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := func(k *ecdsa.PrivateKey) []byte {
		b, _ := x509.MarshalPKCS8PrivateKey(k)
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: b})
	}
	if s, err := NewX509Signer(certPEM, keyPEM(key), ""); err != nil || s.DNSName() != "v.example" || len(s.x5c()) != 1 {
		t.Fatalf("valid chain refused: %v", err)
	}
	for name, c := range map[string]struct {
		chain, key []byte
		dns, want  string
	}{
		"key mismatch": {certPEM, keyPEM(otherKey), "", "does not match"},
		"unknown SAN":  {certPEM, keyPEM(key), "w.example", "not a dNSName"},
		"no cert":      {nil, keyPEM(key), "", "no certificate"},
		"no key":       {certPEM, nil, "", "no PEM private key"},
	} {
		if _, err := NewX509Signer(c.chain, c.key, c.dns); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
