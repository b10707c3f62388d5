package keys

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"math/big"
	"testing"
)

func TestRawP256Signature(t *testing.T) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256([]byte("message"))
	for range 200 { // R or S with leading zero bytes come up among these
		der, err := ecdsa.SignASN1(rand.Reader, k, h[:])
		if err != nil {
			t.Fatal(err)
		}
		sig, err := RawP256Signature(der)
		if err != nil {
			t.Fatal(err)
		}
		if len(sig) != 64 {
			t.Fatalf("%d bytes", len(sig))
		}
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		if !ecdsa.Verify(&k.PublicKey, h[:], r, s) {
			t.Fatal("the raw signature does not verify")
		}
	}
	for name, der := range map[string][]byte{
		"empty":           nil,
		"not a sequence":  {0x02, 0x01, 0x01},
		"trailing bytes":  {0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01, 0x00},
		"negative R":      {0x30, 0x06, 0x02, 0x01, 0x81, 0x02, 0x01, 0x01},
		"one integer":     {0x30, 0x03, 0x02, 0x01, 0x01},
		"33-byte integer": append([]byte{0x30, 0x26, 0x02, 0x21, 0x01}, make([]byte, 32+3)...),
	} {
		if _, err := RawP256Signature(der); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
